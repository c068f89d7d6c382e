// A second connect from the same client IP to the same server within the
// client's punch window most likely means the first punch failed: counted, so
// operators can tell punch failures from master failures. Bounded: the
// pairs first seen longest ago give way (one Map lookup per connect).
const MAX_PAIRS = 10_000;

export class RepeatedConnects {
  /** client>server → when that pair last connected (ms). */
  private readonly lastSeen = new Map<string, { atMs: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Notes a connect; true when the same pair connected within the window. */
  note(clientIp: string, serverIp: string): boolean {
    const key = `${clientIp}>${serverIp}`;
    const nowMs = this.now();
    const seen = this.lastSeen.get(key);
    if (seen) {
      const repeated = nowMs - seen.atMs < this.windowMs;
      seen.atMs = nowMs;
      return repeated;
    }
    if (this.lastSeen.size >= MAX_PAIRS) {
      const first = this.lastSeen.keys().next();
      if (!first.done) this.lastSeen.delete(first.value);
    }
    this.lastSeen.set(key, { atMs: nowMs });
    return false;
  }
}
