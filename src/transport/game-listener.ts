// Binds the game port: TCP and UDP on the same number. The master never sends
// anything over UDP (no reflection, no amplification). Admission happens
// here, before anything reaches the master logic or the store: the node's
// connection cap, connections per source, trusted proxies, UDP rates per
// endpoint and the node's UDP budget for the store.
import { randomBytes } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { BlockList, createServer, isIPv6, type Server, type Socket } from "node:net";
import type { Logger } from "pino";
import type { BadInputReason } from "../bad-input.js";
import type { BadInputLog } from "../bad-input-log.js";
import type { IpFormatter } from "../logging.js";
import type { MasterMetrics } from "../metrics.js";
import { type Cidr, decodeUdpDatagram, normalizeIp, sourceKey } from "../protocol/index.js";
import { ThrottledLog } from "../util/log-throttle.js";
import { IdleDeadlines } from "./idle-deadlines.js";
import { SourceAddressMonitor } from "./source-monitor.js";
import { TcpSession, type TcpSessionContext, type TcpSessionOptions } from "./tcp-session.js";
import { TokenBucket, TokenBuckets } from "./token-buckets.js";
import type { CommandHandler } from "./types.js";

/** Connections looked at; big enough that one busy game host cannot trip it alone. */
const SOURCE_WINDOW = 50;

/**
 * How long a socket that is not a registered game server may stay open, in
 * idle timeouts (60 s by default). A client's connect is answered within
 * seconds and a lobby socket closes after its reply, so only a socket kept
 * busy on purpose reaches it; registered servers stay for hours, exempt.
 */
export const SOCKET_LIFETIME_IDLE_TIMEOUTS = 6;

export interface GameListenerOptions extends TcpSessionOptions {
  host: string;
  port: number;
  /** With PROXY protocol: the balancers allowed to send headers (anyone else is closed). */
  proxyTrustedCidrs: readonly Cidr[];
  udpReceiveBufferBytes: number;
  udpRatePerEndpoint: number;
  udpStoreRate: number;
  /** Open game connections on this node (already derived from descriptors and memory). */
  maxConnections: number;
  maxConnectionsPerSource: number;
  ipv6PrefixLength: number;
  maxTrackedSources: number;
}

export class GameListener {
  private readonly tcpServer: Server;
  private readonly udpSocket: UdpSocket;
  private readonly sessions = new Set<TcpSession>();
  /** Random per process, so connection ids never repeat across nodes or restarts (48 bits). */
  private readonly bootId = randomBytes(6).toString("base64url");
  private sequence = 0;
  private listening = false;
  readonly sourceMonitor: SourceAddressMonitor;
  private readonly udpPerEndpoint: TokenBuckets;
  /** One bucket for the whole node: what UDP may cost the store, whatever the number of sources. */
  private readonly udpStoreBudget: TokenBucket;
  /** Open connections per source key; an entry exists only while one is open. */
  private readonly connectionsPerSource = new Map<string, number>();
  private readonly trustedProxies = new BlockList();
  private readonly idle: IdleDeadlines<TcpSession>;
  private readonly lifetimes: IdleDeadlines<TcpSession>;
  /** What every session shares: built once, not per connection. */
  private readonly sessionContext: TcpSessionContext;

  constructor(
    private readonly options: GameListenerOptions,
    private readonly handler: CommandHandler,
    private readonly metrics: MasterMetrics,
    private readonly logger: Logger,
    private readonly formatIp: IpFormatter,
    private readonly badInput: BadInputLog,
  ) {
    // At most one line a second each, however the sources alternate.
    const sourceLog = new ThrottledLog(logger);
    this.sourceMonitor = new SourceAddressMonitor(SOURCE_WINDOW, (collapsed, sourceIp) => {
      metrics.sourceAddressCollapsed.set(collapsed ? 1 : 0);
      if (collapsed) {
        sourceLog.warn(
          { source: formatIp(sourceIp), connections: SOURCE_WINDOW },
          "every recent game connection came from one address: a load balancer is probably hiding the real sources, and punching will fail",
        );
      } else sourceLog.info({}, "game connections come from several addresses again");
    });
    this.idle = new IdleDeadlines(options.idleTimeoutMs, (session) => session.closeIdle());
    this.lifetimes = new IdleDeadlines(
      options.idleTimeoutMs * SOCKET_LIFETIME_IDLE_TIMEOUTS,
      (session) => session.closeExpired(),
    );
    this.sessionContext = {
      handler,
      metrics,
      logger,
      formatIp,
      badInput,
      observeSource: (ip) => this.sourceMonitor.observe(ip),
      admitProxiedSource: (ip) => this.admit(ip),
      releaseProxiedSource: (key) => this.release(key),
      idle: this.idle,
      lifetimes: this.lifetimes,
    };
    this.udpPerEndpoint = new TokenBuckets(options.udpRatePerEndpoint, options.maxTrackedSources);
    this.udpStoreBudget = new TokenBucket(options.udpStoreRate);
    for (const cidr of options.proxyTrustedCidrs) {
      const type = cidr.family === 4 ? "ipv4" : "ipv6";
      this.trustedProxies.addSubnet(cidr.address, cidr.prefixLength, type);
    }
    this.tcpServer = createServer({ noDelay: true }, (socket) => this.onConnection(socket));
    // Past the cap Node closes new connections itself; descriptors stay for HTTP and Redis.
    this.tcpServer.maxConnections = options.maxConnections;
    this.tcpServer.on("drop", (data) =>
      this.badInput.report("node_connection_limit", "refused a TCP connection: node at its cap", {
        peer: formatIp(normalizeIp(data?.remoteAddress ?? "") ?? "unknown"),
        maxConnections: options.maxConnections,
      }),
    );
    this.tcpServer.on("error", (error) => logger.error({ err: error }, "TCP listener error"));
    const ipv6 = isIPv6(options.host);
    this.udpSocket = createSocket({ type: ipv6 ? "udp6" : "udp4", ipv6Only: false });
    this.udpSocket.on("message", (datagram, remote) =>
      this.onDatagram(datagram, remote.address, remote.port),
    );
    this.udpSocket.on("error", (error) => logger.error({ err: error }, "UDP socket error"));
  }

  get isListening(): boolean {
    return this.listening;
  }

  /** The bound port (useful when configured as 0 in tests). */
  get port(): number {
    const address = this.tcpServer.address();
    return typeof address === "object" && address ? address.port : this.options.port;
  }

  get openConnections(): number {
    return this.sessions.size;
  }

  /** Sources with at least one open connection (bounded by the connection cap). */
  get connectedSources(): number {
    return this.connectionsPerSource.size;
  }

  get trackedUdpEndpoints(): number {
    return this.udpPerEndpoint.trackedSources;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.tcpServer.once("error", reject);
      this.tcpServer.listen(
        { host: this.options.host, port: this.options.port, ipv6Only: false },
        () => {
          this.tcpServer.off("error", reject);
          resolve();
        },
      );
    });
    // UDP takes the port TCP got, so port 0 (tests) still yields one number for both.
    await new Promise<void>((resolve, reject) => {
      this.udpSocket.once("error", reject);
      this.udpSocket.bind({ address: this.options.host, port: this.port, exclusive: true }, () => {
        this.udpSocket.off("error", reject);
        resolve();
      });
    });
    try {
      this.udpSocket.setRecvBufferSize(this.options.udpReceiveBufferBytes);
    } catch (error) {
      this.logger.warn({ err: error }, "could not enlarge the UDP receive buffer");
    }
    // Linux reports twice the granted size (bookkeeping overhead included).
    const grantedBytes = this.udpSocket.getRecvBufferSize();
    if (grantedBytes < this.options.udpReceiveBufferBytes) {
      this.logger.warn(
        { requestedBytes: this.options.udpReceiveBufferBytes, grantedBytes },
        "UDP receive buffer capped by the kernel (raise net.core.rmem_max): bursts of UDP reg/connect may be dropped",
      );
    }
    this.listening = true;
  }

  /** Stops accepting new connections and datagrams; open sessions stay. */
  async stopAccepting(): Promise<void> {
    this.listening = false;
    // Also after a half-failed listen(): TCP may be bound while UDP is not.
    if (this.tcpServer.listening) this.tcpServer.close();
    await new Promise<void>((resolve) => {
      try {
        this.udpSocket.close(() => resolve());
      } catch {
        resolve(); // never bound, or already closed
      }
    });
  }

  /** Resolves once every session wrote what it has queued (a server may still have paced `-1`s). */
  async flushSessions(): Promise<void> {
    await Promise.all([...this.sessions].map((session) => session.repliesWritten()));
  }

  closeAllSessions(reason: string): void {
    for (const session of [...this.sessions]) session.close(reason);
  }

  async close(): Promise<void> {
    await this.stopAccepting();
    this.closeAllSessions("shutting down");
    this.udpPerEndpoint.close();
    this.idle.close();
    this.lifetimes.close();
  }

  private onConnection(socket: Socket): void {
    const peerIp = normalizeIp(socket.remoteAddress ?? "") ?? "unknown";
    const proxied = this.options.proxyProtocol !== null;
    if (proxied && !this.isTrustedProxy(peerIp)) {
      // A PROXY header from anyone else could claim any game's address.
      this.refuse(
        socket,
        "proxy_untrusted",
        peerIp,
        "refused a TCP connection: not a trusted proxy",
      );
      return;
    }
    // Counted by the game's source: the socket's own, or with PROXY protocol the
    // one its header names (then admitted by the session once the header is read).
    if (!proxied) {
      const key = this.admit(peerIp);
      if (key === null) {
        this.refuse(
          socket,
          "too_many_connections",
          peerIp,
          "refused a TCP connection: too many open from one source",
        );
        return;
      }
      socket.once("close", () => this.release(key));
    }
    // Short: it is stored with every registration in Redis.
    const id = `${this.bootId}.${(++this.sequence).toString(36)}`;
    const session = new TcpSession(id, socket, peerIp, this.options, this.sessionContext);
    this.sessions.add(session);
    session.onClosed = () => this.sessions.delete(session);
  }

  private isTrustedProxy(ip: string): boolean {
    return this.trustedProxies.check(ip, isIPv6(ip) ? "ipv6" : "ipv4");
  }

  private refuse(socket: Socket, reason: BadInputReason, ip: string, message: string): void {
    this.badInput.report(reason, message, { peer: this.formatIp(ip) });
    socket.destroy();
  }

  /** Counts one more open connection from `ip`'s source; its key, or null past the cap. */
  private admit(ip: string): string | null {
    const key = sourceKey(ip, this.options.ipv6PrefixLength);
    const open = this.connectionsPerSource.get(key) ?? 0;
    if (open >= this.options.maxConnectionsPerSource) return null;
    this.connectionsPerSource.set(key, open + 1);
    return key;
  }

  private release(key: string): void {
    const left = (this.connectionsPerSource.get(key) ?? 1) - 1;
    if (left <= 0) this.connectionsPerSource.delete(key);
    else this.connectionsPerSource.set(key, left);
  }

  private onDatagram(datagram: Buffer, address: string, port: number): void {
    const ip = normalizeIp(address);
    if (ip === null) return this.dropDatagram("udp_bad_source", "invalid", address, datagram);
    // Per endpoint, not per IP: a forger spoofing a game's IP cannot drain that game's bucket.
    if (!this.udpPerEndpoint.allow(`${sourceKey(ip, this.options.ipv6PrefixLength)}|${port}`)) {
      return this.dropDatagram("udp_rate_limited", "any", ip, datagram);
    }
    const decoded = decodeUdpDatagram(datagram);
    if (!decoded.ok) {
      const reason: BadInputReason =
        decoded.error.code === "empty_datagram"
          ? "udp_empty_datagram"
          : decoded.error.code === "unknown_command"
            ? "udp_unknown_command"
            : "udp_bad_datagram";
      return this.dropDatagram(reason, "invalid", ip, datagram);
    }
    if (!this.udpStoreBudget.allow()) {
      return this.dropDatagram("udp_store_budget", decoded.command.kind, ip, datagram);
    }
    this.metrics.countDatagramOk(decoded.command.kind);
    this.handler.onUdpCommand(ip, port, decoded.command);
  }

  private dropDatagram(
    reason: BadInputReason,
    command: string,
    ip: string,
    datagram: Buffer,
  ): void {
    this.metrics.udpDatagrams.inc({ command, result: reason.replace(/^udp_/, "") });
    this.badInput.report(reason, "dropped a UDP datagram", {
      peer: this.formatIp(ip),
      bytes: datagram.length,
    });
  }
}
