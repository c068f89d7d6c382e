// Single-node state in plain Maps: the embedded default when no Redis is set.
import type { LobbyQuery } from "../../protocol/index.js";
import { applyLobbyQuery } from "../lobby.js";
import { MAX_CLIENT_ENDPOINTS_PER_IP, type StoreTimings } from "../timing.js";
import type {
  ConnectLookup,
  RefreshResult,
  RegisterServerInput,
  RegisterServerResult,
  Registry,
  ServerRegistration,
} from "../types.js";

interface TimedPort {
  port: number;
  atMs: number;
}

/** IPs with pending UDP endpoints held at once; a spoofed flood beyond it is not stored. */
const MAX_TRACKED_IPS = 100_000;

type ClientUdpWaiter = (port: number | null) => void;

export class MemoryRegistry implements Registry {
  private readonly servers = new Map<string, ServerRegistration>();
  /** When each registration was made, to bind a UDP `reg` that arrives just after it. */
  private readonly registeredAtMs = new Map<string, number>();
  /** Registrations whose UDP port came from a UDP `reg` of their own (not carried over). */
  private readonly udpConfirmed = new Set<string>();
  private readonly pendingServerUdp = new Map<string, TimedPort>();
  private readonly clientUdp = new Map<string, TimedPort[]>();
  private readonly clientUdpWaiters = new Map<string, ClientUdpWaiter[]>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly timings: StoreTimings,
    private readonly now: () => number = Date.now,
  ) {
    // Expired endpoints are dropped lazily on use; the sweep bounds memory under floods.
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(1000, timings.clientUdpTtlMs));
    this.sweepTimer.unref();
  }

  get serverCount(): number {
    return this.servers.size;
  }

  async recordServerUdp(ip: string, port: number): Promise<void> {
    const nowMs = this.now();
    const existing = this.servers.get(ip);
    const registeredAt = this.registeredAtMs.get(ip);
    if (
      existing &&
      !this.udpConfirmed.has(ip) &&
      registeredAt !== undefined &&
      nowMs - registeredAt <= this.timings.serverUdpBindWindowMs
    ) {
      // The TCP registration overtook its UDP `reg`: this port is fresher than a carried-over one.
      existing.udpPort = port;
      this.udpConfirmed.add(ip);
      return;
    }
    if (this.pendingServerUdp.size >= MAX_TRACKED_IPS && !this.pendingServerUdp.has(ip))
      this.sweep();
    if (this.pendingServerUdp.size >= MAX_TRACKED_IPS && !this.pendingServerUdp.has(ip)) return;
    this.pendingServerUdp.set(ip, { port, atMs: nowMs });
  }

  async registerServer(input: RegisterServerInput): Promise<RegisterServerResult> {
    const nowMs = this.now();
    const previous = this.servers.get(input.ip) ?? null;
    const pending = this.pendingServerUdp.get(input.ip);
    this.pendingServerUdp.delete(input.ip);
    const freshUdp =
      pending && nowMs - pending.atMs <= this.timings.serverUdpBindWindowMs ? pending.port : null;
    const registration: ServerRegistration = {
      ip: input.ip,
      udpPort: freshUdp ?? previous?.udpPort ?? null,
      version: input.version,
      data: [...input.data],
      createdTimeSec: Math.floor(nowMs / 1000),
      ownerNodeId: input.ownerNodeId,
      ownerConnectionId: input.ownerConnectionId,
    };
    this.servers.set(input.ip, registration);
    this.registeredAtMs.set(input.ip, nowMs);
    if (freshUdp !== null) this.udpConfirmed.add(input.ip);
    else this.udpConfirmed.delete(input.ip);
    const replaced =
      previous && previous.ownerConnectionId !== input.ownerConnectionId
        ? { ownerNodeId: previous.ownerNodeId, ownerConnectionId: previous.ownerConnectionId }
        : null;
    return { registration: { ...registration }, replaced };
  }

  async unregisterServer(ip: string, ownerConnectionId: string): Promise<boolean> {
    const current = this.servers.get(ip);
    if (!current || current.ownerConnectionId !== ownerConnectionId) return false;
    this.servers.delete(ip);
    this.registeredAtMs.delete(ip);
    this.udpConfirmed.delete(ip);
    return true;
  }

  async findServer(ip: string): Promise<ServerRegistration | null> {
    const found = this.servers.get(ip);
    return found ? { ...found } : null;
  }

  async recordClientUdp(ip: string, port: number): Promise<void> {
    const waiters = this.clientUdpWaiters.get(ip);
    const waiter = waiters?.shift();
    if (waiters && waiters.length === 0) this.clientUdpWaiters.delete(ip);
    if (waiter) {
      waiter(port);
      return;
    }
    const nowMs = this.now();
    if (this.clientUdp.size >= MAX_TRACKED_IPS && !this.clientUdp.has(ip)) this.sweep();
    if (this.clientUdp.size >= MAX_TRACKED_IPS && !this.clientUdp.has(ip)) return;
    const list = this.liveClientEndpoints(ip, nowMs);
    const same = list.find((entry) => entry.port === port);
    if (same)
      same.atMs = nowMs; // a resent datagram is the same client
    else {
      list.push({ port, atMs: nowMs });
      // Bounds memory under a flood of spoofed sources: the oldest give way.
      if (list.length > MAX_CLIENT_ENDPOINTS_PER_IP) list.shift();
    }
    this.clientUdp.set(ip, list);
  }

  async beginConnect(serverIp: string, clientIp: string): Promise<ConnectLookup> {
    const server = await this.findServer(serverIp);
    if (!server) return { server: null, clientUdpPort: null };
    return { server, clientUdpPort: this.takeClientEndpoint(clientIp) };
  }

  awaitClientUdp(clientIp: string, timeoutMs: number): Promise<number | null> {
    const ready = this.takeClientEndpoint(clientIp);
    if (ready !== null) return Promise.resolve(ready);
    return new Promise((resolve) => {
      const waiter: ClientUdpWaiter = (port) => {
        clearTimeout(timer);
        resolve(port);
      };
      const timer = setTimeout(() => {
        const waiters = this.clientUdpWaiters.get(clientIp);
        const index = waiters?.indexOf(waiter) ?? -1;
        if (waiters && index >= 0) waiters.splice(index, 1);
        if (waiters?.length === 0) this.clientUdpWaiters.delete(clientIp);
        resolve(null);
      }, timeoutMs);
      const waiters = this.clientUdpWaiters.get(clientIp) ?? [];
      waiters.push(waiter);
      this.clientUdpWaiters.set(clientIp, waiters);
    });
  }

  async queryLobby(query: LobbyQuery): Promise<ServerRegistration[]> {
    return applyLobbyQuery(this.servers.values(), query).map((registration) => ({
      ...registration,
    }));
  }

  async countServers(): Promise<number> {
    return this.servers.size;
  }

  async refreshOwned(registrations: readonly ServerRegistration[]): Promise<RefreshResult[]> {
    return registrations.map((owned) => {
      const current = this.servers.get(owned.ip);
      if (!current) {
        this.servers.set(owned.ip, { ...owned });
        return { outcome: "restored", udpPort: owned.udpPort };
      }
      return current.ownerConnectionId === owned.ownerConnectionId
        ? { outcome: "kept", udpPort: current.udpPort }
        : { outcome: "superseded", udpPort: null };
    });
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    for (const waiters of this.clientUdpWaiters.values())
      for (const waiter of waiters) waiter(null);
    this.clientUdpWaiters.clear();
  }

  private takeClientEndpoint(ip: string): number | null {
    const list = this.liveClientEndpoints(ip, this.now());
    const oldest = list.shift();
    if (list.length === 0) this.clientUdp.delete(ip);
    else this.clientUdp.set(ip, list);
    return oldest?.port ?? null;
  }

  private liveClientEndpoints(ip: string, nowMs: number): TimedPort[] {
    const list = this.clientUdp.get(ip) ?? [];
    return list.filter((entry) => nowMs - entry.atMs <= this.timings.clientUdpTtlMs);
  }

  private sweep(): void {
    const nowMs = this.now();
    for (const ip of this.clientUdp.keys()) {
      const live = this.liveClientEndpoints(ip, nowMs);
      if (live.length === 0) this.clientUdp.delete(ip);
      else this.clientUdp.set(ip, live);
    }
    for (const [ip, pending] of this.pendingServerUdp) {
      if (nowMs - pending.atMs > this.timings.serverUdpBindWindowMs)
        this.pendingServerUdp.delete(ip);
    }
  }
}
