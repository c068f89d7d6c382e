// Floods of bad input must not become floods of log lines: one line per key per
// interval, carrying how many were suppressed in between.
export class LogThrottle {
  private readonly lastAtMs = new Map<string, number>();
  private readonly suppressed = new Map<string, number>();

  constructor(
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
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
