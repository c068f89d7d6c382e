// Binds the game port: TCP and UDP on the same number. The master never sends
// anything over UDP (no reflection, no amplification).
import { randomBytes } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { BlockList, createServer, isIPv6, type Server } from "node:net";
import type { Logger } from "pino";
import type { IpFormatter } from "../logging.js";
import type { MasterMetrics } from "../metrics.js";
import { type Cidr, decodeUdpDatagram, normalizeIp } from "../protocol/index.js";
import { LogThrottle } from "./log-throttle.js";
import { PerSourceRateLimiter } from "./rate-limiter.js";
import { SourceAddressMonitor } from "./source-monitor.js";
import { TcpSession, type TcpSessionOptions } from "./tcp-session.js";
import type { CommandHandler } from "./types.js";

/** Connections looked at; big enough that one busy game host cannot trip it alone. */
const SOURCE_WINDOW = 50;

export interface GameListenerOptions extends TcpSessionOptions {
  host: string;
  port: number;
  /** With PROXY protocol: the balancers allowed to send headers (anyone else is closed). */
  proxyTrustedCidrs: readonly Cidr[];
  udpReceiveBufferBytes: number;
  udpRatePerIp: number;
  maxConnectionsPerIp: number;
}

export class GameListener {
  private readonly tcpServer: Server;
  private readonly udpSocket: UdpSocket;
  private readonly sessions = new Set<TcpSession>();
  /** Random per process, so connection ids never repeat across nodes or restarts (48 bits). */
  private readonly bootId = randomBytes(6).toString("base64url");
  private sequence = 0;
  private readonly badInputLog = new LogThrottle();
  private listening = false;
  readonly sourceMonitor: SourceAddressMonitor;
  private readonly udpRateLimiter: PerSourceRateLimiter;
  private readonly connectionsPerIp = new Map<string, number>();
  private readonly trustedProxies = new BlockList();

  constructor(
    private readonly options: GameListenerOptions,
    private readonly handler: CommandHandler,
    private readonly metrics: MasterMetrics,
    private readonly logger: Logger,
    private readonly formatIp: IpFormatter,
  ) {
    this.sourceMonitor = new SourceAddressMonitor(SOURCE_WINDOW, (collapsed, sourceIp) => {
      metrics.sourceAddressCollapsed.set(collapsed ? 1 : 0);
      if (collapsed) {
        logger.warn(
          { source: formatIp(sourceIp), connections: SOURCE_WINDOW },
          "every recent game connection came from one address: a load balancer is probably hiding the real sources, and punching will fail",
        );
      } else logger.info("game connections come from several addresses again");
    });
    this.udpRateLimiter = new PerSourceRateLimiter(options.udpRatePerIp, options.udpRatePerIp * 2);
    for (const cidr of options.proxyTrustedCidrs) {
      const type = cidr.family === 4 ? "ipv4" : "ipv6";
      this.trustedProxies.addSubnet(cidr.address, cidr.prefixLength, type);
    }
    this.tcpServer = createServer({ noDelay: true }, (socket) => {
      // Counted by the game's address: the socket's own, or with PROXY protocol the
      // one its header names (then checked by the session once the header is read).
      const peerIp = normalizeIp(socket.remoteAddress ?? "") ?? "unknown";
      if (options.proxyProtocol !== null && !this.isTrustedProxy(peerIp)) {
        // A PROXY header from anyone else could claim any game's address.
        this.refuse("proxy_untrusted", peerIp, "refused a TCP connection: not a trusted proxy");
        socket.destroy();
        return;
      }
      if (options.proxyProtocol === null) {
        if (!this.admitConnection(peerIp)) {
          socket.destroy();
          return;
        }
        socket.once("close", () => this.releaseConnection(peerIp));
      }
      // Short: it is stored with every registration in Redis.
      const id = `${this.bootId}.${(++this.sequence).toString(36)}`;
      const session = new TcpSession(id, socket, options, {
        handler,
        metrics,
        logger,
        formatIp,
        badInputLog: this.badInputLog,
        observeSource: (ip) => this.sourceMonitor.observe(ip),
        admitProxiedSource: (ip) => this.admitConnection(ip),
        releaseProxiedSource: (ip) => this.releaseConnection(ip),
      });
      this.sessions.add(session);
      session.onClosed = () => this.sessions.delete(session);
    });
    this.tcpServer.on("error", (error) =>
      logger.error({ err: error.message }, "TCP listener error"),
    );
    const ipv6 = isIPv6(options.host);
    this.udpSocket = createSocket({ type: ipv6 ? "udp6" : "udp4", ipv6Only: false });
    this.udpSocket.on("message", (datagram, remote) =>
      this.onDatagram(datagram, remote.address, remote.port),
    );
    this.udpSocket.on("error", (error) => logger.error({ err: error.message }, "UDP socket error"));
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
      this.logger.warn(
        { err: (error as Error).message },
        "could not enlarge the UDP receive buffer",
      );
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

  /**
   * Lets every session write what it has queued (a server may still have paced
   * `-1`s to send), up to `timeoutMs`, then closes them all.
   */
  async drainSessions(timeoutMs: number): Promise<void> {
    const flushed = Promise.all([...this.sessions].map((session) => session.repliesWritten()));
    await Promise.race([flushed, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
    this.closeAllSessions("draining");
  }

  closeAllSessions(reason: string): void {
    for (const session of [...this.sessions]) session.close(reason);
  }

  async close(): Promise<void> {
    await this.stopAccepting();
    this.closeAllSessions("shutting down");
    this.udpRateLimiter.close();
  }

  private isTrustedProxy(ip: string): boolean {
    return this.trustedProxies.check(ip, isIPv6(ip) ? "ipv6" : "ipv4");
  }

  /** Counts a refused connection and logs it at most once a second per reason. */
  private refuse(reason: string, ip: string, message: string): void {
    this.metrics.badInput.inc({ reason });
    const suppressed = this.badInputLog.allow(`tcp:${reason}`);
    if (suppressed !== null) this.logger.warn({ peer: this.formatIp(ip), suppressed }, message);
  }

  /** Counts one more open connection from `ip`; false (counted, logged) past the cap. */
  private admitConnection(ip: string): boolean {
    const open = this.connectionsPerIp.get(ip) ?? 0;
    if (open >= this.options.maxConnectionsPerIp) {
      this.refuse(
        "too_many_connections",
        ip,
        "refused a TCP connection: too many open from one IP",
      );
      return false;
    }
    this.connectionsPerIp.set(ip, open + 1);
    return true;
  }

  private releaseConnection(ip: string): void {
    const left = (this.connectionsPerIp.get(ip) ?? 1) - 1;
    if (left <= 0) this.connectionsPerIp.delete(ip);
    else this.connectionsPerIp.set(ip, left);
  }

  private onDatagram(datagram: Buffer, address: string, port: number): void {
    const ip = normalizeIp(address);
    if (ip !== null && !this.udpRateLimiter.allow(ip)) {
      this.metrics.udpDatagrams.inc({ command: "any", result: "rate_limited" });
      this.metrics.badInput.inc({ reason: "udp_rate_limited" });
      const suppressed = this.badInputLog.allow("udp:rate_limited");
      if (suppressed !== null) {
        this.logger.warn(
          { peer: this.formatIp(ip), suppressed },
          "dropping UDP datagrams: rate limit per IP exceeded",
        );
      }
      return;
    }
    const decoded = decodeUdpDatagram(datagram);
    if (!decoded.ok || ip === null) {
      const reason = decoded.ok ? "bad_source" : decoded.error.code;
      this.metrics.udpDatagrams.inc({ command: "invalid", result: reason });
      this.metrics.badInput.inc({ reason: `udp_${reason}` });
      const suppressed = this.badInputLog.allow(`udp:${reason}`);
      if (suppressed !== null) {
        this.logger.warn(
          { reason, peer: this.formatIp(ip ?? address), bytes: datagram.length, suppressed },
          "ignored bad UDP datagram",
        );
      }
      return;
    }
    this.metrics.udpDatagrams.inc({ command: decoded.command.kind, result: "ok" });
    this.handler.onUdpCommand(ip, port, decoded.command);
  }
}
