// Floods must not become floods of log lines: one line per key per interval,
// carrying how many were suppressed in between.
import type { Logger } from "pino";
import { type Clock, monotonicMs } from "./monotonic.js";

export class LogThrottle {
  private readonly lastAtMs = new Map<string, number>();
  private readonly suppressed = new Map<string, number>();

  constructor(
    private readonly intervalMs = 1000,
    private readonly now: Clock = monotonicMs,
  ) {}

  /** Returns the suppressed count since the last line if a line may be logged now, else null. */
  allow(key: string): number | null {
    const nowMs = this.now();
    const last = this.lastAtMs.get(key);
    if (last !== undefined && nowMs - last < this.intervalMs) {
      this.suppressed.set(key, (this.suppressed.get(key) ?? 0) + 1);
      return null;
    }
    if (this.lastAtMs.size > 1000) this.lastAtMs.clear(); // keys are reasons, but stay bounded anyway
    this.lastAtMs.set(key, nowMs);
    const count = this.suppressed.get(key) ?? 0;
    this.suppressed.delete(key);
    return count;
  }
}

/** A logger whose lines are throttled per event key (the message, unless a key is given). */
export class ThrottledLog {
  private readonly throttle: LogThrottle;

  constructor(
    private readonly logger: Logger,
    intervalMs = 1000,
  ) {
    this.throttle = new LogThrottle(intervalMs);
  }

  info(fields: object, message: string, key = message): void {
    const suppressed = this.throttle.allow(key);
    if (suppressed !== null) this.logger.info({ ...fields, suppressed }, message);
    else this.logger.debug(fields, message);
  }

  warn(fields: object, message: string, key = message): void {
    const suppressed = this.throttle.allow(key);
    if (suppressed !== null) this.logger.warn({ ...fields, suppressed }, message);
    else this.logger.debug(fields, message);
  }
}
