// The game-server sockets this node holds, and everything about keeping their
// registrations true in the store: registering, the compare-and-delete when a
// socket closes, the refresh that keeps them alive and restores what the
// store lost, and each socket's ping cadence (for a drain's hand-over).
// One failure rule: a compare-and-delete the store cannot take now is queued
// and retried on every refresh until it is taken (the lease is the backstop).
import type { Logger } from "pino";
import type { PeerFoundMessage, Registry, ServerRegistration } from "../cluster/types.js";
import type { IpFormatter } from "../logging.js";
import type { MasterMetrics } from "../metrics.js";
import type { GameConnection } from "../transport/types.js";
import { ThrottledLog } from "../util/log-throttle.js";

interface Held {
  connection: GameConnection;
  /** Null until the store answered the registration. */
  registration: Readonly<ServerRegistration> | null;
  /** When the registration was made, then each ping: the last two (its cadence). */
  lastEventAtMs: number;
  previousEventAtMs: number | null;
  /** Its socket was reset for a hand-over: its close must not unregister it. */
  handingOver: boolean;
}

/** A socket reset for a hand-over, until its game's new registration lands (or the wait ends). */
interface HandedOver {
  ip: string;
  /** -1s routed to it in the meantime (booked before the reset): delivered to the new socket. */
  forwards: PeerFoundMessage[];
}

/** What the refresh did, for the node's log and heartbeat. */
export interface RefreshSummary {
  kept: number;
  restored: number;
  superseded: number;
}

export class OwnedServers {
  private readonly held = new Map<string, Held>();
  /** connection id → server IP whose compare-and-delete is still owed to the store. */
  private readonly owedUnregisters = new Map<string, string>();
  private readonly handedOver = new Map<string, HandedOver>();
  /** Told when a hand-over is over (the drain stops waiting for it). */
  onHandoverCompleted: ((connectionId: string) => void) | null = null;
  private readonly log: ThrottledLog;

  constructor(
    private readonly registry: Registry,
    private readonly metrics: MasterMetrics,
    private readonly logger: Logger,
    private readonly formatIp: IpFormatter,
    private readonly now: () => number = Date.now,
  ) {
    this.log = new ThrottledLog(logger);
  }

  get count(): number {
    return this.held.size;
  }

  holds(connectionId: string): boolean {
    return this.held.has(connectionId);
  }

  /** The socket of a held server, to send it a -1. */
  connection(connectionId: string): GameConnection | null {
    return this.held.get(connectionId)?.connection ?? null;
  }

  /** Compare-and-deletes the store still owes (a metric, and a test's view). */
  get owedCount(): number {
    return this.owedUnregisters.size;
  }

  /**
   * Holds `connection` before the store answers its registration, so a message
   * for this socket racing the reply finds it. A re-registration on the same
   * socket keeps its known registration meanwhile.
   */
  hold(connection: GameConnection): void {
    const previous = this.held.get(connection.id);
    this.held.set(connection.id, {
      connection,
      registration: previous?.registration ?? null,
      lastEventAtMs: this.now(),
      previousEventAtMs: null,
      handingOver: false,
    });
  }

  /**
   * The store registered it. Kept as given and never changed in place (an
   * update replaces it): a store may hand out an object it shares.
   */
  registered(connection: GameConnection, registration: Readonly<ServerRegistration>): void {
    const entry = this.held.get(connection.id);
    if (!entry) return;
    entry.registration = registration;
    this.metrics.registeredServers.set({ scope: "node" }, this.held.size);
  }

  /** A ping on a held socket: one more point of its cadence. */
  notePing(connectionId: string): void {
    const entry = this.held.get(connectionId);
    if (!entry) return;
    entry.previousEventAtMs = entry.lastEventAtMs;
    entry.lastEventAtMs = this.now();
  }

  /** When the game behind this socket is expected to ping next. */
  expectedPingAtMs(connectionId: string, defaultIntervalMs: number): number | null {
    const entry = this.held.get(connectionId);
    if (!entry) return null;
    const intervalMs =
      entry.previousEventAtMs === null
        ? defaultIntervalMs
        : entry.lastEventAtMs - entry.previousEventAtMs;
    return entry.lastEventAtMs + Math.max(1, intervalMs);
  }

  /** Held sockets with a registration (copies), for a drain. */
  registrations(): Array<{ connectionId: string; registration: Readonly<ServerRegistration> }> {
    const list: Array<{ connectionId: string; registration: Readonly<ServerRegistration> }> = [];
    for (const [connectionId, entry] of this.held) {
      if (entry.registration) list.push({ connectionId, registration: entry.registration });
    }
    return list;
  }

  /** Its socket is being reset for a hand-over: its close keeps the (marked) registration. */
  markHandingOver(connectionId: string): void {
    const entry = this.held.get(connectionId);
    if (entry) entry.handingOver = true;
  }

  /**
   * The socket closed (or its registration failed): stop holding it and remove
   * its registration from the store unless a newer one replaced it, or it is
   * being handed over (the next registration replaces it).
   */
  release(connection: GameConnection, ip: string): Promise<void> {
    const entry = this.held.get(connection.id);
    this.held.delete(connection.id);
    this.metrics.registeredServers.set({ scope: "node" }, this.held.size);
    if (entry?.handingOver) {
      this.handedOver.set(connection.id, { ip, forwards: [] });
      return Promise.resolve();
    }
    return this.unregister(ip, connection.id).then((removed) => {
      if (removed !== null)
        this.log.info({ server: this.formatIp(ip), removed }, "server socket closed");
    });
  }

  /** Whether `connectionId` was reset for a hand-over whose new registration has not landed yet. */
  isHandedOver(connectionId: string): boolean {
    return this.handedOver.has(connectionId);
  }

  /** Keeps a -1 for a handed-over socket until its game registers again. */
  holdForward(message: PeerFoundMessage): boolean {
    const entry = this.handedOver.get(message.ownerConnectionId);
    entry?.forwards.push(message);
    return entry !== undefined;
  }

  /**
   * The hand-over of `connectionId` is over (its game registered again, or the
   * wait ended): the -1s held for it, to deliver to the new registration.
   */
  completeHandover(connectionId: string): { ip: string; forwards: PeerFoundMessage[] } | null {
    const entry = this.handedOver.get(connectionId);
    this.handedOver.delete(connectionId);
    if (entry) this.onHandoverCompleted?.(connectionId);
    return entry ?? null;
  }

  /** The one way a registration leaves the store: compare-and-delete, owed until taken. */
  async unregister(ip: string, connectionId: string): Promise<boolean | null> {
    try {
      const removed = await this.registry.unregisterServer(ip, connectionId);
      this.owedUnregisters.delete(connectionId);
      return removed;
    } catch (error) {
      this.owedUnregisters.set(connectionId, ip);
      this.log.warn(
        { err: error, server: this.formatIp(ip) },
        "could not unregister server: retrying on every refresh",
      );
      return null;
    }
  }

  /**
   * Keeps every held registration alive, restores what the store lost,
   * closes sockets another connection superseded, and pays owed deletes.
   * Throws only when the store is unreachable (the caller logs and retries).
   */
  async refresh(): Promise<RefreshSummary> {
    for (const [connectionId, ip] of [...this.owedUnregisters]) {
      await this.registry.unregisterServer(ip, connectionId);
      this.owedUnregisters.delete(connectionId);
    }
    const owned = this.registrations();
    const results = await this.registry.refreshOwned(
      owned.map(({ connectionId, registration }) => ({
        ip: registration.ip,
        ownerConnectionId: connectionId,
      })),
    );
    const summary: RefreshSummary = { kept: 0, restored: 0, superseded: 0 };
    const missing: ServerRegistration[] = [];
    for (const [i, result] of results.entries()) {
      const { connectionId, registration } = owned[i] as (typeof owned)[number];
      if (result.outcome === "missing") missing.push(registration);
      else if (result.outcome === "superseded") this.supersede(connectionId, summary);
      else {
        summary.kept++;
        this.updateUdpPort(connectionId, result.udpPort);
      }
    }
    if (missing.length === 0) return summary;
    const restored = await this.registry.restoreOwned(missing);
    for (const [i, result] of restored.entries()) {
      const registration = missing[i] as ServerRegistration;
      if (result.outcome === "superseded") this.supersede(registration.ownerConnectionId, summary);
      else if (!this.held.has(registration.ownerConnectionId)) {
        // Closed while the refresh was under way: what it just restored must go again.
        await this.unregister(registration.ip, registration.ownerConnectionId);
      } else {
        summary.restored++;
        this.updateUdpPort(registration.ownerConnectionId, result.udpPort);
      }
    }
    if (summary.restored > 0)
      this.logger.info({ restored: summary.restored }, "restored registrations the store had lost");
    return summary;
  }

  /** Closes the socket of a registration another connection took over. */
  supersede(connectionId: string, summary?: RefreshSummary): void {
    const entry = this.held.get(connectionId);
    if (!entry) return;
    if (summary) summary.superseded++;
    entry.connection.close("superseded by a newer registration from the same IP");
  }

  /** A UDP `reg` may bind after the TCP one: keep the held copy in step with the store. */
  private updateUdpPort(connectionId: string, udpPort: number | null): void {
    const entry = this.held.get(connectionId);
    if (entry?.registration && udpPort !== null && entry.registration.udpPort !== udpPort)
      entry.registration = { ...entry.registration, udpPort };
  }
}
