// The load generator: simulated game servers that keep their registration as
// the GML does (UDP reg + TCP reg2 on a kept socket, a `ping` every interval,
// a new registration only when a ping write fails) and clients (UDP connect
// from their own ip:port, then TCP connect), open-loop at a set rate, with
// every reply checked. Wrong reply = a client getting a -1 with another
// server's endpoint, or a server getting a client it was not asked about.
// Which node a new flow reaches is a NodePicker's choice (a balancer).
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect as tcpConnect, type Socket } from "node:net";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import {
  encodeConnectRequest,
  encodeLobby2Request,
  encodePingRequest,
  encodeReg2Request,
  encodeUdpRequest,
  MasterReplyParser,
} from "../../src/protocol/index.js";
import type { ReregisterMode } from "../../src/sdk/game-server.js";
import { type NodePicker, StaticPicker } from "./balancer.js";
import { LatencyHistogram, type LatencySummary } from "./histogram.js";
import { ipFor } from "./ips.js";

export type { ReregisterMode };

export interface Target {
  host: string;
  port: number;
}

const UDP_REG = encodeUdpRequest("reg", true);
const UDP_CONNECT = encodeUdpRequest("connect", true);
const PING = encodePingRequest();
/** GML udphp_rctintv: 3 minutes. */
export const GML_PING_INTERVAL_MS = 180_000;
/** GML udphp_config: network_config_connect_timeout 4000 ms. */
const GML_CONNECT_TIMEOUT_MS = 4_000;

function bindUdp(ip: string): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    socket.once("error", reject);
    socket.bind({ address: ip, port: 0 }, () => {
      socket.off("error", reject);
      socket.on("error", () => undefined);
      resolve(socket);
    });
  });
}

/**
 * A TCP connection from `localAddress`. Half-open allowed, as the SDK's game
 * server: after the master's FIN our writes still go out (the game's do too),
 * so a FIN is noticed only when a later write fails.
 */
function openTcp(target: Target, localAddress: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({
      host: target.host,
      port: target.port,
      localAddress,
      allowHalfOpen: true,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("connect to the master timed out"));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.off("error", onError);
      socket.setNoDelay(true);
      resolve(socket);
    });
    const onError = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once("error", onError);
  });
}

/**
 * One simulated game server. Its UDP socket (and so its public port) lives as
 * long as it does. The keepalive is the SDK GameServer's (src/sdk/game-server.ts)
 * without the punching: `on-ping-failure` (the default, the GML's) pings every
 * interval and registers again only when that write fails, one attempt per
 * tick; `on-close` registers again as soon as the socket closes (with backoff).
 */
export class SimServer {
  tcp: Socket | null = null;
  udpPort = 0;
  registrations = 0;
  /** Keepalive ticks: each one a ping write, or a registration when there is no socket. */
  pingTicks = 0;
  lastRegisteredAtMs = 0;
  /** When the master closed the current socket (FIN or RST), while the game has not noticed. */
  closedAtMs: number | null = null;
  /** How the master last closed a socket of this server, as the socket saw it. */
  lastClose: "fin" | "rst" | null = null;
  private udp: UdpSocket | null = null;
  private stopped = false;
  private registering = false;
  private pingTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly index: number,
    readonly ip: string,
    /** Index of the node it prefers (the balancer's choice while that one is up). */
    readonly homeNode: number,
    private readonly fleet: ServerFleet,
  ) {}

  /** Holds a socket the master has not closed. */
  get connected(): boolean {
    return this.tcp !== null && !this.tcp.destroyed && this.closedAtMs === null;
  }

  /**
   * The first registration (the GML's first tick: its ping on a never-connected
   * socket fails), tried on each node in turn so a bench starts quickly; then
   * the keepalive ticks every interval from now, as the GML's counter does.
   */
  async start(): Promise<void> {
    const picker = this.fleet.picker;
    let lastError: unknown = null;
    for (let attempt = 0; attempt < picker.size; attempt++) {
      const target = picker.pick(this.homeNode + attempt);
      if (!target) break;
      try {
        await this.registerAt(target);
        lastError = null;
        break;
      } catch (error) {
        lastError = error;
      }
    }
    if (lastError !== null || this.registrations === 0)
      throw lastError ?? new Error(`server ${this.ip}: no node takes new flows`);
    const pingMs = this.fleet.pingIntervalMs;
    if (pingMs > 0 && !this.stopped) {
      this.pingTimer = setInterval(() => this.keepaliveTick(), pingMs);
    }
  }

  /**
   * One keepalive tick, as udphp_serverPunch: `ping` on the kept socket; when the
   * write fails (an RST was seen, or there is no socket) register again.
   */
  private keepaliveTick(): void {
    if (this.stopped || this.registering) return;
    this.pingTicks++;
    const tcp = this.tcp;
    if (tcp && !tcp.destroyed) {
      // After a FIN this write still succeeds (half-open) and draws the RST; the next fails.
      tcp.write(PING, (error) => {
        if (error) this.pingFailed();
      });
      return;
    }
    this.pingFailed();
  }

  private pingFailed(): void {
    if (this.stopped || this.registering || this.fleet.reregister !== "on-ping-failure") return;
    this.fleet.stats.pingFailures++;
    const target = this.fleet.picker.pick(this.homeNode);
    if (!target) {
      this.fleet.stats.registerFailures++; // no node up: the next tick tries again
      return;
    }
    // One attempt per tick: a failed connect waits a full interval, as the GML's does.
    this.registerAt(target).catch(() => {
      this.fleet.stats.registerFailures++;
    });
  }

  /** UDP `reg`, then a new TCP connection with `reg2` (the old socket is dropped first). */
  private async registerAt(target: Target): Promise<void> {
    this.registering = true;
    try {
      if (!this.udp) {
        this.udp = await bindUdp(this.ip);
        this.udpPort = this.udp.address().port;
      }
      this.tcp?.destroy();
      this.tcp = null;
      await new Promise<void>((resolve, reject) =>
        this.udp?.send(UDP_REG, target.port, target.host, (error) =>
          error ? reject(error) : resolve(),
        ),
      );
      const tcp = await openTcp(target, this.ip, this.fleet.connectTimeoutMs);
      if (this.stopped) {
        tcp.destroy();
        return;
      }
      const parser = new MasterReplyParser();
      tcp.on("data", (chunk: Buffer) => {
        const replies = parser.push(chunk);
        if (replies.length > 1) this.fleet.stats.mergedServerReads++;
        for (const reply of replies) {
          if (reply.kind === "peer") this.fleet.onServerPeer(this, reply.ip, reply.port);
          else this.fleet.stats.unexpectedServerReplies++;
        }
      });
      // The master's FIN ('end': the socket stays half-open) or an RST (ECONNRESET, then 'close').
      tcp.on("error", () => this.onMasterClosed(tcp, "rst"));
      tcp.once("end", () => this.onMasterClosed(tcp, "fin"));
      tcp.once("close", () => this.onMasterClosed(tcp, "rst"));
      this.tcp = tcp;
      tcp.write(encodeReg2Request("1.2.5", [this.fleet.options.tag, `s${this.index}`]));
      const nowMs = performance.now();
      if (this.registrations > 0) this.fleet.onReregistered(this, nowMs);
      this.closedAtMs = null;
      this.registrations++;
      this.lastRegisteredAtMs = nowMs;
      if (this.fleet.options.keepUdp === false) {
        this.udp?.close();
        this.udp = null;
      }
    } finally {
      this.registering = false;
    }
  }

  private onMasterClosed(socket: Socket, kind: "fin" | "rst"): void {
    if (this.tcp !== socket || this.closedAtMs !== null || this.stopped) return;
    this.closedAtMs = performance.now();
    this.lastClose = kind;
    this.fleet.stats.serverDisconnects++;
    if (kind === "fin") this.fleet.stats.serverClosedByFin++;
    if (this.fleet.reregister === "on-close") {
      this.tcp = null;
      socket.destroy();
      this.scheduleReconnect();
    }
  }

  /** `on-close` only: after a moment, UDP reg + TCP reg2 again, with backoff. */
  private scheduleReconnect(attempt = 0): void {
    const delayMs = Math.min(2_000, 100 * 2 ** attempt) + Math.random() * 100;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.stopped) return;
      const target = this.fleet.picker.pick(this.homeNode + attempt);
      if (!target) return this.scheduleReconnect(attempt + 1);
      this.registerAt(target).catch(() => this.scheduleReconnect(attempt + 1));
    }, delayMs);
  }

  close(): void {
    this.stopped = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.tcp?.destroy();
    this.tcp = null;
    this.udp?.close();
    this.udp = null;
  }
}

export interface FleetOptions {
  nodes: Target[];
  servers: number;
  /** data1 of every server (the lobby filter); also tells bench runs apart. */
  tag: string;
  /** First server index (so two fleets do not share IPs). */
  firstIndex?: number;
  /** Picks the node of each new flow (default: every node is up, the home node first). */
  balancer?: NodePicker;
  /** Keepalive interval (GML udphp_rctintv, default 3 min); 0: no pings at all. */
  pingIntervalMs?: number;
  /** When a server registers again (default `on-ping-failure`, as the GML does). */
  reregister?: ReregisterMode;
  /** A registration's TCP connect timeout (GML: 4 s). */
  connectTimeoutMs?: number;
  /** false: close each server's UDP socket once its reg is sent (memory runs: half the fds). */
  keepUdp?: boolean;
  /** Parallel registrations while starting. */
  registerConcurrency?: number;
  /**
   * Start the servers evenly over this long instead of at once: games start at
   * different times, so their pings (and a drain's hand-overs) spread out.
   */
  startSpreadMs?: number;
  /**
   * A server got a -1 naming a client nobody in this fleet asked for: true when
   * the caller knows who that is (an attacker, a forged endpoint), counted in
   * `foreignServerReplies` instead of as wrong.
   */
  onForeignPeer?: (server: SimServer, clientIp: string, clientPort: number) => boolean;
}

export interface LoadStats {
  started: number;
  completed: number;
  clientFound: number;
  notFound: number;
  clientTimeouts: number;
  serverTimeouts: number;
  wrongClientReplies: number;
  wrongServerReplies: number;
  lateServerReplies: number;
  unexpectedClientReplies: number;
  unexpectedServerReplies: number;
  mergedServerReads: number;
  tcpErrors: number;
  skipped: number;
  /** Connects not started because no node took new flows (also counted in skipped). */
  noReadyNode: number;
  /** Server sockets the master closed (FIN or RST), as the socket saw it. */
  serverDisconnects: number;
  /** Of those, closed with a FIN (the rest: an RST, or an error on a write). */
  serverClosedByFin: number;
  /** Keepalive pings whose write failed (each starts a registration). */
  pingFailures: number;
  /** Registrations after a server's first. */
  reregistrations: number;
  /** Registration attempts that failed (no node up, connect refused or timed out). */
  registerFailures: number;
  /** Server -1s naming a client the caller recognised (onForeignPeer). */
  foreignServerReplies: number;
  lobbyRequests: number;
  lobbyOk: number;
  lobbyErrors: number;
  /** Largest lobby reply seen (bytes, the whole -7 reply). */
  lobbyMaxReplyBytes: number;
  /** Lobby replies that listed no server at all (the fleet's servers are registered). */
  lobbyEmptyReplies: number;
}

function emptyStats(): LoadStats {
  return {
    started: 0,
    completed: 0,
    clientFound: 0,
    notFound: 0,
    clientTimeouts: 0,
    serverTimeouts: 0,
    wrongClientReplies: 0,
    wrongServerReplies: 0,
    lateServerReplies: 0,
    unexpectedClientReplies: 0,
    unexpectedServerReplies: 0,
    mergedServerReads: 0,
    tcpErrors: 0,
    skipped: 0,
    noReadyNode: 0,
    serverDisconnects: 0,
    serverClosedByFin: 0,
    pingFailures: 0,
    reregistrations: 0,
    registerFailures: 0,
    foreignServerReplies: 0,
    lobbyRequests: 0,
    lobbyOk: 0,
    lobbyErrors: 0,
    lobbyMaxReplyBytes: 0,
    lobbyEmptyReplies: 0,
  };
}

interface ClientIdentity {
  ip: string;
  udp: UdpSocket;
  port: number;
  key: string;
  /** Servers this identity recently asked for without the server's -1 arriving (late is not wrong). */
  unanswered: Array<{ server: SimServer; atMs: number }>;
}

interface InFlight {
  identity: ClientIdentity;
  server: SimServer;
  tcp: Socket | null;
  sentAtMs: number;
  startedAtMs: number;
  clientDone: boolean;
  serverDone: boolean;
  /** Its TCP connection failed (counted in tcpErrors, not again as a timeout). */
  tcpFailed: boolean;
}

export interface RunOptions {
  connectsPerSec: number;
  seconds: number;
  /** Client UDP to node (home+1), TCP to node (home+2): cross-node with three nodes. */
  crossNode: boolean;
  lobbyPerSec?: number;
  connectTimeoutMs?: number;
  /** Stop starting new connects after this many (smoke tests); 0 = no cap. */
  maxConnects?: number;
  /** Keep the latency histograms of the previous runs: the summaries then cover all of them. */
  keepLatencies?: boolean;
  onSecond?: (second: number, stats: LoadStats) => void;
  /** Each connect's end, with ms from its TCP write (from its start for a timeout). */
  onConnectDone?: (done: ConnectDone) => void;
}

/** How one connect ended, from the client's side. */
export interface ConnectDone {
  server: SimServer;
  outcome: "found" | "not_found" | "wrong" | "client_timeout" | "server_timeout" | "tcp_error";
  ms: number;
}

export interface RunResult {
  options: RunOptions;
  elapsedSec: number;
  achievedPerSec: number;
  stats: LoadStats;
  clientLatency: LatencySummary;
  serverLatency: LatencySummary;
  tcpHandshake: LatencySummary;
  lobbyLatency: LatencySummary;
  /** From the master closing a server's socket to that server's next registration. */
  serverRelistGap: LatencySummary;
  generatorLoopDelayP99Ms: number;
  generatorLoopDelayMaxMs: number;
}

/** Game servers plus the clients that connect to them; one run at a time. */
export class ServerFleet {
  readonly servers: SimServer[] = [];
  stats: LoadStats = emptyStats();
  readonly picker: NodePicker;
  readonly pingIntervalMs: number;
  readonly reregister: ReregisterMode;
  readonly connectTimeoutMs: number;
  private identities: ClientIdentity[] = [];
  private freeIdentities: ClientIdentity[] = [];
  private readonly inFlight = new Map<string, InFlight>();
  private lobbyPending = 0;
  private readonly clientLatency = new LatencyHistogram();
  private readonly serverLatency = new LatencyHistogram();
  private readonly handshake = new LatencyHistogram();
  private readonly lobbyLatency = new LatencyHistogram();
  private readonly relistGap = new LatencyHistogram();
  private onConnectDone: ((done: ConnectDone) => void) | null = null;

  constructor(readonly options: FleetOptions) {
    this.picker = options.balancer ?? new StaticPicker(options.nodes);
    this.pingIntervalMs = options.pingIntervalMs ?? GML_PING_INTERVAL_MS;
    this.reregister = options.reregister ?? "on-ping-failure";
    this.connectTimeoutMs = options.connectTimeoutMs ?? GML_CONNECT_TIMEOUT_MS;
  }

  /** Registers every server (bounded parallelism); `verify` then confirms them on the master. */
  async start(): Promise<void> {
    const first = this.options.firstIndex ?? 0;
    const nodes = this.picker.size;
    for (let i = 0; i < this.options.servers; i++) {
      this.servers.push(new SimServer(i, ipFor("server", first + i), i % nodes, this));
    }
    const spreadMs = this.options.startSpreadMs ?? 0;
    if (spreadMs > 0) {
      const count = this.servers.length;
      await Promise.all(
        this.servers.map(
          (server, i) =>
            new Promise<void>((resolve, reject) => {
              setTimeout(() => server.start().then(resolve, reject), (i * spreadMs) / count);
            }),
        ),
      );
      return;
    }
    const concurrency = this.options.registerConcurrency ?? 200;
    let next = 0;
    const worker = async () => {
      while (next < this.servers.length) {
        const server = this.servers[next++] as SimServer;
        await server.start();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  /** A server registered again (its socket was closed or reset; its ping failed). */
  onReregistered(server: SimServer, nowMs: number): void {
    this.stats.reregistrations++;
    if (server.closedAtMs !== null) this.relistGap.recordMs(nowMs - server.closedAtMs);
  }

  /** Binds `count` client identities (own IP and UDP port each). */
  async prepareClients(count: number): Promise<void> {
    const have = this.identities.length;
    for (let i = have; i < count; i++) {
      const ip = ipFor("client", i);
      const udp = await bindUdp(ip);
      const port = udp.address().port;
      const identity: ClientIdentity = { ip, udp, port, key: `${ip}:${port}`, unanswered: [] };
      this.identities.push(identity);
      this.freeIdentities.push(identity);
    }
  }

  onServerPeer(server: SimServer, clientIp: string, clientPort: number): void {
    const key = `${clientIp}:${clientPort}`;
    const flight = this.inFlight.get(key);
    if (flight && flight.server === server && !flight.serverDone) {
      flight.serverDone = true;
      this.serverLatency.recordMs(performance.now() - flight.sentAtMs);
      this.maybeFinish(flight);
      return;
    }
    const identity = flight?.identity ?? this.identities.find((i) => i.key === key);
    const late = identity?.unanswered.findIndex((u) => u.server === server) ?? -1;
    if (identity && late >= 0) {
      identity.unanswered.splice(late, 1);
      this.stats.lateServerReplies++;
      return;
    }
    if (this.options.onForeignPeer?.(server, clientIp, clientPort)) {
      this.stats.foreignServerReplies++;
      return;
    }
    this.stats.wrongServerReplies++;
  }

  private startConnect(crossNode: boolean): void {
    const identity = this.freeIdentities.shift();
    const live = this.servers.length;
    if (!identity || live === 0) {
      this.stats.skipped++;
      return;
    }
    const server = this.servers[Math.floor(Math.random() * live)] as SimServer;
    // Each flow is the balancer's choice: with three nodes up, UDP and TCP reach
    // the two nodes after the server's home node (cross-node).
    const udpNode = this.picker.pick(server.homeNode + (crossNode ? 1 : 0));
    const tcpNode = this.picker.pick(server.homeNode + (crossNode ? 2 : 0));
    if (!udpNode || !tcpNode) {
      this.freeIdentities.push(identity);
      this.stats.skipped++;
      this.stats.noReadyNode++;
      return;
    }
    const flight: InFlight = {
      identity,
      server,
      tcp: null,
      sentAtMs: 0,
      startedAtMs: performance.now(),
      clientDone: false,
      serverDone: false,
      tcpFailed: false,
    };
    this.inFlight.set(identity.key, flight);
    this.stats.started++;
    identity.udp.send(UDP_CONNECT, udpNode.port, udpNode.host);
    const parser = new MasterReplyParser();
    const tcp = tcpConnect({ host: tcpNode.host, port: tcpNode.port, localAddress: identity.ip });
    flight.tcp = tcp;
    tcp.on("connect", () => {
      tcp.setNoDelay(true);
      flight.sentAtMs = performance.now();
      this.handshake.recordMs(flight.sentAtMs - flight.startedAtMs);
      tcp.write(encodeConnectRequest(server.ip));
    });
    tcp.on("data", (chunk: Buffer) => {
      for (const reply of parser.push(chunk)) {
        if (flight.clientDone) {
          this.stats.unexpectedClientReplies++;
          continue;
        }
        flight.clientDone = true;
        const ms = performance.now() - flight.sentAtMs;
        if (reply.kind === "peer") {
          if (reply.ip !== server.ip || reply.port !== server.udpPort) {
            this.stats.wrongClientReplies++;
            this.onConnectDone?.({ server, outcome: "wrong", ms });
          } else {
            this.stats.clientFound++;
            this.clientLatency.recordMs(ms);
            this.onConnectDone?.({ server, outcome: "found", ms });
          }
        } else if (reply.kind === "not-found") {
          this.stats.notFound++;
          flight.serverDone = true; // the server is not told about a -2
          this.onConnectDone?.({ server, outcome: "not_found", ms });
        } else {
          this.stats.unexpectedClientReplies++;
        }
        tcp.destroy();
        flight.tcp = null;
        this.maybeFinish(flight);
      }
    });
    tcp.on("error", () => {
      if (flight.clientDone) return;
      this.stats.tcpErrors++;
      // Ended here, but its identity waits for the sweep: a late -1 may still reach the server.
      flight.clientDone = true;
      flight.tcpFailed = true;
      this.onConnectDone?.({
        server,
        outcome: "tcp_error",
        ms: performance.now() - flight.startedAtMs,
      });
    });
  }

  private maybeFinish(flight: InFlight): void {
    if (!flight.clientDone || !flight.serverDone) return;
    if (this.inFlight.get(flight.identity.key) !== flight) return;
    this.inFlight.delete(flight.identity.key);
    this.stats.completed++;
    this.freeIdentities.push(flight.identity);
  }

  private sweep(timeoutMs: number): void {
    const now = performance.now();
    for (const flight of this.inFlight.values()) {
      if (now - flight.startedAtMs < timeoutMs) continue;
      const ms = now - flight.startedAtMs;
      if (flight.tcpFailed) {
        // counted when it failed
      } else if (!flight.clientDone) {
        this.stats.clientTimeouts++;
        this.onConnectDone?.({ server: flight.server, outcome: "client_timeout", ms });
      } else if (!flight.serverDone) {
        this.stats.serverTimeouts++;
        this.onConnectDone?.({ server: flight.server, outcome: "server_timeout", ms });
      }
      if (!flight.serverDone) {
        const list = flight.identity.unanswered;
        list.push({ server: flight.server, atMs: now });
        if (list.length > 8) list.shift();
      }
      flight.tcp?.destroy();
      this.inFlight.delete(flight.identity.key);
      this.freeIdentities.push(flight.identity);
    }
  }

  private lobbyRequest(index: number, timeoutMs: number): void {
    const target = this.picker.pick(index);
    if (!target) {
      this.stats.lobbyRequests++;
      this.stats.lobbyErrors++;
      return;
    }
    const ip = `127.150.${1 + ((index >> 8) % 254)}.${1 + (index % 254)}`;
    const startedAt = performance.now();
    this.stats.lobbyRequests++;
    this.lobbyPending++;
    const parser = new MasterReplyParser();
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      this.lobbyPending--;
      clearTimeout(timer);
      if (ok) {
        this.stats.lobbyOk++;
        this.lobbyLatency.recordMs(performance.now() - startedAt);
      } else this.stats.lobbyErrors++;
      tcp.destroy();
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const tcp = tcpConnect({ host: target.host, port: target.port, localAddress: ip }, () => {
      tcp.setNoDelay(true);
      tcp.write(encodeLobby2Request({ filters: [this.options.tag], limit: 20 }));
    });
    let replyBytes = 0;
    tcp.on("data", (chunk: Buffer) => {
      replyBytes += chunk.length;
      this.stats.lobbyMaxReplyBytes = Math.max(this.stats.lobbyMaxReplyBytes, replyBytes);
      for (const reply of parser.push(chunk)) {
        if (reply.kind !== "lobby") return finish(false);
        try {
          const rows: unknown = JSON.parse(reply.json);
          if (Array.isArray(rows) && rows.length === 0) this.stats.lobbyEmptyReplies++;
          finish(Array.isArray(rows) && rows.length <= 20);
        } catch {
          finish(false);
        }
      }
    });
    tcp.on("error", () => finish(false));
    tcp.on("close", () => finish(false));
  }

  /** One open-loop run: starts connects at the set rate, then waits for the stragglers. */
  async run(options: RunOptions): Promise<RunResult> {
    this.stats = emptyStats();
    this.onConnectDone = options.onConnectDone ?? null;
    if (!options.keepLatencies)
      for (const h of [
        this.clientLatency,
        this.serverLatency,
        this.handshake,
        this.lobbyLatency,
        this.relistGap,
      ])
        h.reset();
    const timeoutMs = options.connectTimeoutMs ?? 5_000;
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    const startedAt = performance.now();
    const durationMs = options.seconds * 1000;
    let lobbyStarted = 0;
    let lastSecond = 0;
    const maxConnects = options.maxConnects ?? 0;
    // Never more than 50 ms of backlog at once: a stalled generator skips rather than bursts.
    const maxBurst = Math.max(1, Math.ceil(options.connectsPerSec * 0.05));
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const elapsedMs = performance.now() - startedAt;
        const inWindow = Math.min(elapsedMs, durationMs);
        let due = Math.floor((inWindow * options.connectsPerSec) / 1000) - this.stats.started;
        due -= this.stats.skipped; // skipped ones count as started for pacing
        if (due > maxBurst) {
          this.stats.skipped += due - maxBurst;
          due = maxBurst;
        }
        for (let i = 0; i < due; i++) {
          if (maxConnects > 0 && this.stats.started >= maxConnects) break;
          this.startConnect(options.crossNode);
        }
        const lobbyDue = Math.floor((inWindow * (options.lobbyPerSec ?? 0)) / 1000) - lobbyStarted;
        for (let i = 0; i < lobbyDue; i++) this.lobbyRequest(lobbyStarted++, timeoutMs);
        this.sweep(timeoutMs);
        const second = Math.floor(elapsedMs / 1000);
        if (second > lastSecond) {
          lastSecond = second;
          options.onSecond?.(second, this.stats);
        }
        const capped = maxConnects > 0 && this.stats.started >= maxConnects;
        if (
          (elapsedMs >= durationMs || capped) &&
          this.inFlight.size === 0 &&
          this.lobbyPending === 0
        ) {
          clearInterval(tick);
          resolve();
        } else if (elapsedMs >= durationMs + timeoutMs + 1000) {
          this.sweep(0);
          clearInterval(tick);
          resolve();
        }
      }, 1);
    });
    loopDelay.disable();
    this.onConnectDone = null;
    const elapsedSec = Math.min(performance.now() - startedAt, durationMs) / 1000;
    return {
      options: { ...options, onSecond: undefined, onConnectDone: undefined },
      elapsedSec,
      achievedPerSec: Math.round(this.stats.completed / Math.max(elapsedSec, 0.001)),
      stats: { ...this.stats },
      clientLatency: this.clientLatency.summary(),
      serverLatency: this.serverLatency.summary(),
      tcpHandshake: this.handshake.summary(),
      lobbyLatency: this.lobbyLatency.summary(),
      serverRelistGap: this.relistGap.summary(),
      generatorLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e4) / 100,
      generatorLoopDelayMaxMs: Math.round(loopDelay.max / 1e4) / 100,
    };
  }

  get connectedServers(): number {
    return this.servers.filter((s) => s.connected).length;
  }

  close(): void {
    for (const flight of this.inFlight.values()) flight.tcp?.destroy();
    this.inFlight.clear();
    for (const server of this.servers) server.close();
    for (const identity of this.identities) identity.udp.close();
    this.identities = [];
    this.freeIdentities = [];
  }
}

/** Wrong replies of any kind (the soak and smoke tests require zero). */
export function wrongReplies(stats: LoadStats): number {
  return stats.wrongClientReplies + stats.wrongServerReplies;
}
