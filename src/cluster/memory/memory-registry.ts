// Single-node state in plain Maps: the embedded default when no Redis is set.
// Every per-source table is a GenerationalMap, so a flood of new sources
// costs O(1) per datagram and forgets the oldest entries, never sweeps on the
// hot path.
import type { LobbyQuery } from "../../protocol/index.js";
import { GenerationalMap } from "../../util/generational-map.js";
import { type Clock, monotonicMs } from "../../util/monotonic.js";
import { collectLobby } from "../lobby.js";
import {
  MAX_CLIENT_ENDPOINTS_PER_IP,
  MAX_PENDING_SERVER_PORTS,
  type StoreTimings,
} from "../timing.js";
import type {
  ConnectLookup,
  HandedClientUdp,
  LobbyBounds,
  OwnedRef,
  RefreshResult,
  RegisterServerInput,
  RegisterServerResult,
  Registry,
  RestoreResult,
  ServerRegistration,
  ServerUdpOutcome,
} from "../types.js";
import { DateIndex } from "./date-index.js";

interface TimedPort {
  port: number;
  atMs: number;
}

/** A registration and the bookkeeping the store keeps beside it. */
interface StoredServer {
  registration: ServerRegistration;
  registeredAtMs: number;
  /** The UDP port came from a UDP `reg` of this registration (not carried over). */
  udpConfirmed: boolean;
  /** When the server's last booked -1 goes out (its owner's pacer, modelled). */
  replyClockMs: number;
  /** Its socket was reset for a hand-over; connects wait for the next registration. */
  handingOver: boolean;
}

/** A connect waiting for its client's UDP `connect`: handed a port (or busy), or given up. */
interface ClientWaiter {
  /** Whose -1 is booked when the port comes. */
  serverIp: string;
  handed: HandedClientUdp;
  wake: ((handed: number | "busy") => void) | null;
}

export class MemoryRegistry implements Registry {
  private readonly servers = new Map<string, StoredServer>();
  private readonly byDate = new DateIndex<string>();
  private readonly byData1 = new Map<string, DateIndex<string>>();
  private readonly pendingServerUdp: EndpointTable;
  private readonly clientUdp: EndpointTable;
  /** Connects waiting on a UDP `connect` (one per in-flight connect: bounded by connections). */
  private readonly clientWaiters = new Map<string, ClientWaiter[]>();
  private readonly serverWaiters = new Map<string, Set<(registered: boolean) => void>>();
  /** Waits in progress, released with nothing by close(). */
  private readonly waits = new Set<() => void>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly timings: StoreTimings,
    /** Ages and the reply clock (createdTime, a wall timestamp on the wire, reads Date.now()). */
    private readonly now: Clock = monotonicMs,
  ) {
    this.pendingServerUdp = new EndpointTable(timings.maxTrackedSources, now());
    this.clientUdp = new EndpointTable(timings.maxTrackedSources, now());
    // Expired endpoints are ignored on use; the sweep frees them a whole generation at a time.
    this.sweepTimer = setInterval(() => this.sweep(), 1_000);
    this.sweepTimer.unref();
  }

  get serverCount(): number {
    return this.servers.size;
  }

  /** UDP endpoints (client and pending server ports) held: at most maxTrackedSources each. */
  get trackedEndpoints(): number {
    return this.pendingServerUdp.endpoints + this.clientUdp.endpoints;
  }

  async recordServerUdp(ip: string, port: number): Promise<ServerUdpOutcome> {
    const nowMs = this.now();
    const stored = this.servers.get(ip);
    const window = this.timings.serverUdpBindWindowMs;
    if (stored && !stored.udpConfirmed && nowMs - stored.registeredAtMs <= window) {
      // The TCP registration overtook its UDP `reg`: this port is fresher than a carried-over one.
      // Replaced, not changed: lookups hand out the stored object itself.
      stored.registration = { ...stored.registration, udpPort: port };
      stored.udpConfirmed = true;
      return "bound";
    }
    const live = livePorts(this.pendingServerUdp.get(ip, nowMs), nowMs - window);
    const conflict = live.some((entry) => entry.port !== port);
    const others = live.filter((entry) => entry.port !== port);
    const ports = keepNewestPorts(
      [...others, { port, atMs: nowMs }],
      stored?.registration.udpPort ?? null,
    );
    this.pendingServerUdp.set(ip, ports, nowMs);
    return conflict ? "conflict" : "pending";
  }

  async registerServer(input: RegisterServerInput): Promise<RegisterServerResult> {
    const nowMs = this.now();
    const previous = this.servers.get(input.ip) ?? null;
    const pending = livePorts(
      this.pendingServerUdp.get(input.ip, nowMs),
      nowMs - this.timings.serverUdpBindWindowMs,
    );
    this.pendingServerUdp.delete(input.ip);
    const choice = chooseServerPort(pending, previous?.registration.udpPort ?? null);
    const registration: ServerRegistration = {
      ip: input.ip,
      udpPort: choice.port,
      version: input.version,
      data: [...input.data],
      createdTimeSec: Math.floor(Date.now() / 1000),
      ownerNodeId: input.ownerNodeId,
      ownerConnectionId: input.ownerConnectionId,
    };
    this.store(registration, {
      registeredAtMs: nowMs,
      udpConfirmed: choice.confirmed,
      replyClockMs: Number.NEGATIVE_INFINITY, // a new socket, a fresh pacer
    });
    this.wakeServerWaiters(input.ip);
    const prior = previous?.registration;
    const replaced =
      prior && prior.ownerConnectionId !== input.ownerConnectionId
        ? { ownerNodeId: prior.ownerNodeId, ownerConnectionId: prior.ownerConnectionId }
        : null;
    // The stored object itself: it is never changed in place (updates replace it).
    return { registration, replaced, udpConflict: choice.conflict };
  }

  async unregisterServer(ip: string, ownerConnectionId: string): Promise<boolean> {
    const current = this.servers.get(ip);
    if (!current || current.registration.ownerConnectionId !== ownerConnectionId) return false;
    this.remove(ip);
    return true;
  }

  async findServer(ip: string): Promise<ServerRegistration | null> {
    const found = this.servers.get(ip);
    return found ? copy(found.registration) : null;
  }

  async recordClientUdp(ip: string, port: number): Promise<void> {
    const waiters = this.clientWaiters.get(ip);
    const waiter = waiters?.shift();
    if (waiters && waiters.length === 0) this.clientWaiters.delete(ip);
    if (waiter) {
      // Its -1 is booked now that it has a client to pair: never for a connect without one.
      const handed = this.bookReply(waiter.serverIp) ? port : "busy";
      if (waiter.wake) waiter.wake(handed);
      else waiter.handed = handed; // handed before its connect started to wait
      return;
    }
    const nowMs = this.now();
    const stored = this.clientUdp.get(ip, nowMs);
    // The common case, one client behind its IP: nothing to filter.
    if (stored === undefined) return this.clientUdp.set(ip, [{ port, atMs: nowMs }], nowMs);
    const live = livePorts(stored, nowMs - this.timings.clientUdpTtlMs);
    // A resent datagram is the same client: it moves to the newest place.
    const others = live.filter((entry) => entry.port !== port);
    const ports = [...others, { port, atMs: nowMs }].slice(-MAX_CLIENT_ENDPOINTS_PER_IP);
    this.clientUdp.set(ip, ports, nowMs);
  }

  async beginConnect(serverIp: string, clientIp: string, waitedMs = 0): Promise<ConnectLookup> {
    const stored = this.servers.get(serverIp);
    if (!stored) return { status: "not_found" };
    // Never changed in place (see recordServerUdp): no copy on the connect path.
    const server = stored.registration;
    if (stored.handingOver) {
      return {
        status: "handover",
        server,
        awaitRegistration: (timeoutMs) => this.awaitRegistration(serverIp, timeoutMs),
      };
    }
    if (server.udpPort === null) return { status: "server_udp_unknown", server };
    const sendAtMs = this.nextReplyAtMs(stored);
    if (sendAtMs === null) return { status: "busy", server };
    const clientUdpPort = this.takeClientEndpoint(
      clientIp,
      this.timings.clientUdpFreshMs + waitedMs,
    );
    // One node: the owner is this process.
    if (clientUdpPort !== null) {
      stored.replyClockMs = sendAtMs;
      return { status: "ready", server, clientUdpPort, ownerHeartbeatMs: null };
    }
    // Queued now, in this same step, so a UDP `connect` right after cannot miss it.
    const waiter = this.queueClientWaiter(clientIp, serverIp);
    return {
      status: "waiting",
      server,
      ownerHeartbeatMs: null,
      olderEndpoint: this.hasLiveClientEndpoint(clientIp),
      awaitClientUdp: (timeoutMs) => waiter(timeoutMs),
    };
  }

  async markHandover(ip: string, ownerConnectionId: string): Promise<boolean> {
    const stored = this.servers.get(ip);
    if (!stored || stored.registration.ownerConnectionId !== ownerConnectionId) return false;
    stored.handingOver = true;
    return true;
  }

  async queryLobby(query: LobbyQuery, bounds: LobbyBounds): Promise<ServerRegistration[]> {
    const data1 = query.filters[0] ?? "";
    const index = data1 === "" ? this.byDate : this.byData1.get(data1);
    if (!index) return [];
    const newestFirst = !(query.sortBy === "date" && query.sortDirection === "ASC");
    const walk = function* (servers: Map<string, StoredServer>) {
      for (const ip of index.walk(newestFirst)) {
        const stored = servers.get(ip);
        if (stored) yield stored.registration;
      }
    };
    return collectLobby(walk(this.servers), newestFirst, query, bounds).map(copy);
  }

  async countServers(): Promise<number> {
    return this.servers.size;
  }

  async refreshOwned(owned: readonly OwnedRef[]): Promise<RefreshResult[]> {
    return owned.map((ref) => {
      const current = this.servers.get(ref.ip);
      if (!current) return { outcome: "missing" };
      return current.registration.ownerConnectionId === ref.ownerConnectionId
        ? { outcome: "kept", udpPort: current.registration.udpPort }
        : { outcome: "superseded" };
    });
  }

  async restoreOwned(registrations: readonly ServerRegistration[]): Promise<RestoreResult[]> {
    const nowMs = this.now();
    return registrations.map((owned) => {
      const current = this.servers.get(owned.ip);
      if (current) {
        return current.registration.ownerConnectionId === owned.ownerConnectionId
          ? { outcome: "restored", udpPort: current.registration.udpPort }
          : { outcome: "superseded" };
      }
      // A restored port is the owner's confirmed one: no stray UDP `reg` may rebind it now.
      this.store(copy(owned), {
        registeredAtMs: nowMs,
        udpConfirmed: owned.udpPort !== null,
        replyClockMs: Number.NEGATIVE_INFINITY,
      });
      return { outcome: "restored", udpPort: owned.udpPort };
    });
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    for (const giveUp of [...this.waits]) giveUp();
    this.clientWaiters.clear();
    for (const waiters of this.serverWaiters.values()) for (const wake of [...waiters]) wake(false);
  }

  private store(
    registration: ServerRegistration,
    state: Omit<StoredServer, "registration" | "handingOver">,
  ): void {
    this.remove(registration.ip);
    this.servers.set(registration.ip, { registration, ...state, handingOver: false });
    this.byDate.add(registration.ip);
    const data1 = registration.data[0] ?? "";
    if (data1 !== "") {
      const index = this.byData1.get(data1) ?? new DateIndex<string>();
      index.add(registration.ip);
      this.byData1.set(data1, index);
    }
  }

  private remove(ip: string): void {
    const stored = this.servers.get(ip);
    if (!stored) return;
    this.servers.delete(ip);
    this.byDate.remove(ip);
    const data1 = stored.registration.data[0] ?? "";
    const index = this.byData1.get(data1);
    index?.remove(ip);
    if (index?.size === 0) this.byData1.delete(data1);
  }

  /**
   * The owner's pacer, modelled: when this server's next -1 would go out (one
   * gap after the last one booked), or null past the backlog.
   */
  private nextReplyAtMs(stored: StoredServer): number | null {
    const nowMs = this.now();
    const sendAtMs = Math.max(nowMs, stored.replyClockMs + this.timings.replyGapMs);
    return sendAtMs - nowMs > this.timings.serverReplyBacklogMs ? null : sendAtMs;
  }

  /** Books a waiting connect's -1 once its client's port came; false when the backlog is full. */
  private bookReply(serverIp: string): boolean {
    const stored = this.servers.get(serverIp);
    // Gone meanwhile: nothing to book; the connect finds its owner gone when it tells it.
    if (!stored) return true;
    const sendAtMs = this.nextReplyAtMs(stored);
    if (sendAtMs === null) return false;
    stored.replyClockMs = sendAtMs;
    return true;
  }

  /** Queues a waiter for the next UDP `connect` from `clientIp`; its wait leaves the queue. */
  private queueClientWaiter(
    clientIp: string,
    serverIp: string,
  ): (timeoutMs: number) => Promise<HandedClientUdp> {
    const waiter: ClientWaiter = { serverIp, handed: null, wake: null };
    const queue = this.clientWaiters.get(clientIp) ?? [];
    queue.push(waiter);
    this.clientWaiters.set(clientIp, queue);
    const leave = () => {
      const waiters = this.clientWaiters.get(clientIp);
      const index = waiters?.indexOf(waiter) ?? -1;
      if (waiters && index >= 0) waiters.splice(index, 1);
      if (waiters?.length === 0) this.clientWaiters.delete(clientIp);
    };
    return (timeoutMs) => {
      if (waiter.handed !== null) return Promise.resolve(waiter.handed);
      return new Promise((resolve) => {
        const finish = (handed: HandedClientUdp) => {
          clearTimeout(timer);
          this.waits.delete(giveUp);
          waiter.wake = null;
          resolve(handed);
        };
        const giveUp = () => {
          leave();
          // No fresh datagram came: an older endpoint, if any, is the best there is.
          const port = this.takeClientEndpoint(clientIp, this.timings.clientUdpTtlMs);
          finish(port === null ? null : this.bookReply(serverIp) ? port : "busy");
        };
        const timer = setTimeout(giveUp, timeoutMs);
        this.waits.add(giveUp);
        waiter.wake = finish;
      });
    };
  }

  private awaitRegistration(ip: string, timeoutMs: number): Promise<boolean> {
    if (!this.servers.get(ip)?.handingOver) return Promise.resolve(this.servers.has(ip));
    return new Promise((resolve) => {
      const waiters = this.serverWaiters.get(ip) ?? new Set();
      const wake = (registered: boolean) => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (waiters.size === 0) this.serverWaiters.delete(ip);
        resolve(registered);
      };
      const timer = setTimeout(() => wake(false), timeoutMs);
      waiters.add(wake);
      this.serverWaiters.set(ip, waiters);
    });
  }

  private wakeServerWaiters(ip: string): void {
    const waiters = this.serverWaiters.get(ip);
    if (waiters) for (const wake of [...waiters]) wake(true);
  }

  private hasLiveClientEndpoint(ip: string): boolean {
    const nowMs = this.now();
    const cutoffMs = nowMs - this.timings.clientUdpTtlMs;
    return this.clientUdp.get(ip, nowMs)?.some((entry) => entry.atMs >= cutoffMs) ?? false;
  }

  /**
   * The client's newest live endpoint (the one its game sent just before this
   * connect), if it is at most `maxAgeMs` old; older ones stay for a later take.
   */
  private takeClientEndpoint(ip: string, maxAgeMs: number): number | null {
    const nowMs = this.now();
    const stored = this.clientUdp.get(ip, nowMs);
    if (stored === undefined) return null;
    const live = livePorts(stored, nowMs - this.timings.clientUdpTtlMs);
    const newest = live.at(-1);
    if (newest === undefined || nowMs - newest.atMs > maxAgeMs) {
      if (live.length === 0) this.clientUdp.delete(ip);
      return null;
    }
    live.pop();
    if (live.length === 0) this.clientUdp.delete(ip);
    else this.clientUdp.set(ip, live, nowMs);
    return newest.port;
  }

  private sweep(): void {
    const nowMs = this.now();
    this.clientUdp.expire(nowMs - this.timings.clientUdpTtlMs, nowMs);
    this.pendingServerUdp.expire(nowMs - this.timings.serverUdpBindWindowMs, nowMs);
  }
}

/**
 * Which UDP port a new registration takes from the ports its IP sent within
 * the window: the one port if only one; if several (a forger, or a NAT that
 * remapped), the port it already had when that is among them, else the
 * newest. With none, the previous registration's port is carried over.
 */
export function chooseServerPort(
  pending: readonly TimedPort[],
  previousPort: number | null,
): { port: number | null; confirmed: boolean; conflict: boolean } {
  if (pending.length === 0) return { port: previousPort, confirmed: false, conflict: false };
  const distinct = new Set(pending.map((entry) => entry.port));
  if (distinct.size === 1) {
    return { port: (pending[0] as TimedPort).port, confirmed: true, conflict: false };
  }
  const port =
    previousPort !== null && distinct.has(previousPort)
      ? previousPort
      : (pending[pending.length - 1] as TimedPort).port;
  return { port, confirmed: true, conflict: true };
}

/**
 * The newest MAX_PENDING_SERVER_PORTS ports (oldest first), never dropping the
 * port the current registration uses: otherwise a few forged ports sent after
 * the game's own `reg` would push it out and the newest (forged) would win.
 */
function keepNewestPorts(ports: readonly TimedPort[], registeredPort: number | null): TimedPort[] {
  let excess = ports.length - MAX_PENDING_SERVER_PORTS;
  return ports.filter((entry) => {
    if (excess <= 0 || entry.port === registeredPort) return true;
    excess--;
    return false;
  });
}

function livePorts(ports: TimedPort[] | undefined, cutoffMs: number): TimedPort[] {
  return ports ? ports.filter((entry) => entry.atMs >= cutoffMs) : [];
}

/**
 * UDP endpoints by source IP, bounded by their total count (not the number of
 * IPs: one IP may hold several): past it, the IPs set longest ago give way a
 * generation at a time. Ages are checked on every read (livePorts); expire()
 * only frees memory, and drops a whole generation at once.
 */
class EndpointTable {
  private readonly byIp: GenerationalMap<string, TimedPort[]>;
  /** When the current generation began: everything older was set before it. */
  private currentSinceMs: number;

  constructor(maxEndpoints: number, nowMs: number) {
    this.byIp = new GenerationalMap(maxEndpoints, (ports) => ports.length);
    this.currentSinceMs = nowMs;
  }

  get endpoints(): number {
    return this.byIp.weight;
  }

  /** An entry read from the older generation moves to the current one, which may start a new one. */
  get(ip: string, nowMs: number): TimedPort[] | undefined {
    const generation = this.byIp.generation;
    const ports = this.byIp.get(ip);
    if (this.byIp.generation !== generation) this.currentSinceMs = nowMs;
    return ports;
  }

  set(ip: string, ports: TimedPort[], atMs: number): void {
    const generation = this.byIp.generation;
    this.byIp.set(ip, ports);
    if (this.byIp.generation !== generation) this.currentSinceMs = atMs;
  }

  delete(ip: string): void {
    this.byIp.delete(ip);
  }

  /** Frees what was set before `cutoffMs`: nothing stays past twice the age it is kept for. */
  expire(cutoffMs: number, nowMs: number): void {
    if (this.currentSinceMs >= cutoffMs) return;
    // The previous generation was all set before the current one began: it goes whole.
    this.byIp.rotate();
    this.currentSinceMs = nowMs;
  }
}

function copy(registration: ServerRegistration): ServerRegistration {
  return { ...registration, data: [...registration.data] };
}
