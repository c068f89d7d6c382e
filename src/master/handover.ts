// A drain that hands each game server over at its own next ping. A GML game
// re-registers only when a `ping` write fails; after an RST it fails at once,
// so resetting its socket shortly before its expected ping makes that ping
// re-register through the balancer on a ready node, with no gap a client sees:
// the registration is marked meanwhile and connects wait for the new one.
import type { Logger } from "pino";
import type { PeerFoundMessage, Registry } from "../cluster/types.js";
import type { IpFormatter } from "../logging.js";
import type { MasterMetrics } from "../metrics.js";
import type { OwnedServers } from "./owned-servers.js";

/** Delivers the -1s held for a handed-over socket to its game's new registration. */
export type ForwardHeld = (
  held: { ip: string; forwards: PeerFoundMessage[] } | null,
) => Promise<void>;

export interface HandoverOptions {
  /** The games' ping interval assumed until a socket's own cadence is known. */
  serverPingIntervalMs: number;
  /** Reset this long before the expected ping. */
  handoverLeadMs: number;
  /** How long the new registration may take; after it, an unclaimed entry is removed. */
  handoverWaitMs: number;
  /** How long the -1s already queued on a socket may take to go out before it is reset. */
  replyDrainMs: number;
}

/** How often the drain looks for servers to schedule (new ones may register while it runs). */
const SCAN_INTERVAL_MS = 1_000;

export class DrainHandover {
  private readonly scheduled = new Map<string, NodeJS.Timeout>();
  /** Per handed-over socket: what removes its entry if its game never registers again. */
  private readonly cleanups = new Map<string, NodeJS.Timeout>();
  /** Removals of never-replaced entries under way (the drain waits for them). */
  private pendingUnregisters = 0;
  private scanTimer: NodeJS.Timeout | null = null;
  private deadlineMs = 0;
  private onSettled: (() => void) | null = null;

  constructor(
    private readonly owned: OwnedServers,
    private readonly registry: Registry,
    private readonly options: HandoverOptions,
    private readonly metrics: MasterMetrics,
    private readonly logger: Logger,
    private readonly formatIp: IpFormatter,
    private readonly forwardHeld: ForwardHeld,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Hands every held server over, each shortly before its expected ping and
   * none after `deadlineMs` (minus the lead). Resolves once none is held, or
   * at the deadline.
   */
  run(deadlineMs: number): Promise<void> {
    this.deadlineMs = deadlineMs;
    return new Promise((resolve) => {
      const scan = () => {
        this.scheduleNew();
        if (this.owned.count === 0 || this.now() >= this.deadlineMs) {
          this.stopScanning();
          resolve();
          return;
        }
        this.scanTimer = setTimeout(scan, Math.min(SCAN_INTERVAL_MS, this.deadlineMs - this.now()));
        this.scanTimer.unref();
      };
      scan();
    });
  }

  /** Resets every held server now (the node is alone, or out of time). */
  async handOverAll(): Promise<void> {
    await Promise.all(
      this.owned
        .registrations()
        .map(({ connectionId, registration }) =>
          this.handOver(connectionId, registration.ip, "deadline"),
        ),
    );
  }

  /** Its game registered again (the new registration replaced the marked one): nothing to clean. */
  completed(connectionId: string): void {
    const cleanup = this.cleanups.get(connectionId);
    if (cleanup === undefined) return;
    clearTimeout(cleanup);
    this.settle(connectionId);
  }

  private settle(connectionId: string): void {
    this.cleanups.delete(connectionId);
    if (this.cleanups.size === 0 && this.pendingUnregisters === 0) this.onSettled?.();
  }

  /** Resolves once every hand-over's wait is over (each marked entry replaced or removed). */
  settled(): Promise<void> {
    if (this.cleanups.size === 0 && this.pendingUnregisters === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.onSettled = resolve;
    });
  }

  close(): void {
    this.stopScanning();
    for (const timer of this.scheduled.values()) clearTimeout(timer);
    this.scheduled.clear();
    for (const timer of this.cleanups.values()) clearTimeout(timer);
    this.cleanups.clear();
  }

  private stopScanning(): void {
    if (this.scanTimer) clearTimeout(this.scanTimer);
    this.scanTimer = null;
  }

  private scheduleNew(): void {
    const { serverPingIntervalMs, handoverLeadMs } = this.options;
    const latestMs = this.deadlineMs - handoverLeadMs;
    for (const { connectionId, registration } of this.owned.registrations()) {
      if (this.scheduled.has(connectionId)) continue;
      const pingAtMs = this.owned.expectedPingAtMs(connectionId, serverPingIntervalMs);
      if (pingAtMs === null) continue;
      const atMs = Math.min(pingAtMs - handoverLeadMs, latestMs);
      const onTime = pingAtMs - handoverLeadMs <= latestMs;
      const timer = setTimeout(
        () => void this.handOver(connectionId, registration.ip, onTime ? "on_time" : "deadline"),
        Math.max(0, atMs - this.now()),
      );
      timer.unref();
      this.scheduled.set(connectionId, timer);
    }
  }

  private async handOver(
    connectionId: string,
    ip: string,
    result: "on_time" | "deadline",
  ): Promise<void> {
    const timer = this.scheduled.get(connectionId);
    if (timer) clearTimeout(timer);
    const socket = this.owned.connection(connectionId);
    if (!socket || socket.closed) return;
    // Marked first, so a connect in between waits for the new registration instead of -2.
    const marked = await this.registry.markHandover(ip, connectionId).catch(() => false);
    // -1s already queued (paced) go out before the reset, which would drop them; any
    // routed here afterwards are held and delivered to the new registration.
    await Promise.race([
      socket.repliesWritten(),
      new Promise((resolve) => setTimeout(resolve, this.options.replyDrainMs).unref()),
    ]);
    this.owned.markHandingOver(connectionId);
    socket.reset("handed over to another node");
    this.metrics.drainHandovers.inc({ result });
    this.logger.debug({ server: this.formatIp(ip), result, marked }, "server handed over");
    // If the game never comes back, its marked entry must not outlive the wait.
    const cleanup = setTimeout(() => {
      // Out of the table first: completing the hand-over below must not settle it early.
      this.cleanups.delete(connectionId);
      // Whatever was held for it goes to a registration that landed late, if any.
      void this.forwardHeld(this.owned.completeHandover(connectionId));
      this.pendingUnregisters++;
      void this.owned.unregister(ip, connectionId).finally(() => {
        this.pendingUnregisters--;
        this.settle(connectionId);
      });
    }, this.options.handoverWaitMs);
    cleanup.unref();
    this.cleanups.set(connectionId, cleanup);
  }
}
