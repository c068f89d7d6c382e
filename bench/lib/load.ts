// The load generator: simulated game servers (UDP reg + TCP reg2 on a kept
// socket, pings, re-registration when the socket drops) and clients (UDP
// connect from their own ip:port, then TCP connect), open-loop at a set rate,
// with every reply checked. Wrong reply = a client getting a -1 with another
// server's endpoint, or a server getting a client it was not asked about.
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
import { LatencyHistogram, type LatencySummary } from "./histogram.js";
import { ipFor } from "./ips.js";

export interface Target {
  host: string;
  port: number;
}

const UDP_REG = encodeUdpRequest("reg", true);
const UDP_CONNECT = encodeUdpRequest("connect", true);
const PING = encodePingRequest();

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

function openTcp(target: Target, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: target.host, port: target.port, localAddress }, () => {
      socket.off("error", reject);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** One simulated game server. Its UDP socket (and so its public port) lives as long as it does. */
export class SimServer {
  tcp: Socket | null = null;
  udpPort = 0;
  registrations = 0;
  private udp: UdpSocket | null = null;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly index: number,
    readonly ip: string,
    /** Index of the node it registers with (the next ones are tried when that one is down). */
    readonly homeNode: number,
    private readonly fleet: ServerFleet,
  ) {}

  get connected(): boolean {
    return this.tcp !== null && !this.tcp.destroyed;
  }

  async register(): Promise<void> {
    if (!this.udp) {
      this.udp = await bindUdp(this.ip);
      this.udpPort = this.udp.address().port;
    }
    const nodes = this.fleet.options.nodes;
    let lastError: unknown = null;
    for (let attempt = 0; attempt < nodes.length; attempt++) {
      const target = nodes[(this.homeNode + attempt) % nodes.length] as Target;
      try {
        await this.registerAt(target);
        if (this.fleet.options.keepUdp === false) {
          this.udp?.close();
          this.udp = null;
        }
        return;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  private async registerAt(target: Target): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.udp?.send(UDP_REG, target.port, target.host, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
    const tcp = await openTcp(target, this.ip);
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
    tcp.on("error", () => undefined);
    tcp.on("close", () => {
      if (this.tcp !== tcp) return;
      this.tcp = null;
      this.fleet.stats.serverDisconnects++;
      if (!this.stopped && this.fleet.options.reconnect) this.scheduleReconnect();
    });
    this.tcp = tcp;
    tcp.write(encodeReg2Request("1.2.5", [this.fleet.options.tag, `s${this.index}`]));
    this.registrations++;
  }

  private scheduleReconnect(attempt = 0): void {
    // Like the game's reconnect: after a moment, UDP reg + TCP reg2 again.
    const delayMs = Math.min(2_000, 100 * 2 ** attempt) + Math.random() * 100;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.stopped) return;
      this.register().catch(() => this.scheduleReconnect(attempt + 1));
    }, delayMs);
  }

  ping(): void {
    if (this.tcp && !this.tcp.destroyed) this.tcp.write(PING);
  }

  close(): void {
    this.stopped = true;
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
  pingIntervalMs?: number;
  reconnect?: boolean;
  /** false: close each server's UDP socket once its reg is sent (memory runs: half the fds). */
  keepUdp?: boolean;
  /** Parallel registrations while starting. */
  registerConcurrency?: number;
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
  serverDisconnects: number;
  lobbyRequests: number;
  lobbyOk: number;
  lobbyErrors: number;
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
    serverDisconnects: 0,
    lobbyRequests: 0,
    lobbyOk: 0,
    lobbyErrors: 0,
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
  generatorLoopDelayP99Ms: number;
  generatorLoopDelayMaxMs: number;
}

/** Game servers plus the clients that connect to them; one run at a time. */
export class ServerFleet {
  readonly servers: SimServer[] = [];
  stats: LoadStats = emptyStats();
  private identities: ClientIdentity[] = [];
  private freeIdentities: ClientIdentity[] = [];
  private readonly inFlight = new Map<string, InFlight>();
  private lobbyPending = 0;
  private pingTimer: NodeJS.Timeout | null = null;
  private readonly clientLatency = new LatencyHistogram();
  private readonly serverLatency = new LatencyHistogram();
  private readonly handshake = new LatencyHistogram();
  private readonly lobbyLatency = new LatencyHistogram();

  constructor(readonly options: FleetOptions) {}

  /** Registers every server (bounded parallelism); `verify` then confirms them on the master. */
  async start(): Promise<void> {
    const first = this.options.firstIndex ?? 0;
    const nodes = this.options.nodes.length;
    for (let i = 0; i < this.options.servers; i++) {
      this.servers.push(new SimServer(i, ipFor("server", first + i), i % nodes, this));
    }
    const concurrency = this.options.registerConcurrency ?? 200;
    let next = 0;
    const worker = async () => {
      while (next < this.servers.length) {
        const server = this.servers[next++] as SimServer;
        await server.register();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const pingMs = this.options.pingIntervalMs ?? 0;
    if (pingMs > 0) {
      // Spread the pings: each tick pings a slice of the fleet.
      const tickMs = 100;
      const perTick = Math.max(1, Math.ceil((this.servers.length * tickMs) / pingMs));
      let cursor = 0;
      this.pingTimer = setInterval(() => {
        for (let i = 0; i < perTick && this.servers.length > 0; i++) {
          this.servers[cursor % this.servers.length]?.ping();
          cursor++;
        }
      }, tickMs);
    }
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
    const nodes = this.options.nodes;
    const udpNode = nodes[(server.homeNode + (crossNode ? 1 : 0)) % nodes.length] as Target;
    const tcpNode = nodes[(server.homeNode + (crossNode ? 2 : 0)) % nodes.length] as Target;
    const flight: InFlight = {
      identity,
      server,
      tcp: null,
      sentAtMs: 0,
      startedAtMs: performance.now(),
      clientDone: false,
      serverDone: false,
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
        if (reply.kind === "peer") {
          if (reply.ip !== server.ip || reply.port !== server.udpPort) {
            this.stats.wrongClientReplies++;
          } else {
            this.stats.clientFound++;
            this.clientLatency.recordMs(performance.now() - flight.sentAtMs);
          }
        } else if (reply.kind === "not-found") {
          this.stats.notFound++;
          flight.serverDone = true; // the server is not told about a -2
        } else {
          this.stats.unexpectedClientReplies++;
        }
        tcp.destroy();
        flight.tcp = null;
        this.maybeFinish(flight);
      }
    });
    tcp.on("error", () => {
      if (!flight.clientDone) this.stats.tcpErrors++;
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
      if (!flight.clientDone) this.stats.clientTimeouts++;
      else if (!flight.serverDone) this.stats.serverTimeouts++;
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
    const target = this.options.nodes[index % this.options.nodes.length] as Target;
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
    tcp.on("data", (chunk: Buffer) => {
      for (const reply of parser.push(chunk)) {
        if (reply.kind !== "lobby") return finish(false);
        try {
          const rows: unknown = JSON.parse(reply.json);
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
    if (!options.keepLatencies)
      for (const h of [this.clientLatency, this.serverLatency, this.handshake, this.lobbyLatency])
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
    const elapsedSec = Math.min(performance.now() - startedAt, durationMs) / 1000;
    return {
      options: { ...options, onSecond: undefined },
      elapsedSec,
      achievedPerSec: Math.round(this.stats.completed / Math.max(elapsedSec, 0.001)),
      stats: { ...this.stats },
      clientLatency: this.clientLatency.summary(),
      serverLatency: this.serverLatency.summary(),
      tcpHandshake: this.handshake.summary(),
      lobbyLatency: this.lobbyLatency.summary(),
      generatorLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e4) / 100,
      generatorLoopDelayMaxMs: Math.round(loopDelay.max / 1e4) / 100,
    };
  }

  get connectedServers(): number {
    return this.servers.filter((s) => s.connected).length;
  }

  close(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
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
