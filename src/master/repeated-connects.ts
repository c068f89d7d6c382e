// A second connect from the same client IP to the same server within the
// client's punch window most likely means the first punch failed: counted, so
// operators can tell punch failures from master failures. Bounded: the
// pairs not seen for longest give way (O(1) per connect).
import { GenerationalMap } from "../util/generational-map.js";
import { type Clock, monotonicMs } from "../util/monotonic.js";

const MAX_PAIRS = 10_000;

export class RepeatedConnects {
  /** client>server → when that pair last connected (ms). */
  private readonly lastSeen = new GenerationalMap<string, { atMs: number }>(MAX_PAIRS);

  constructor(
    private readonly windowMs: number,
    private readonly now: Clock = monotonicMs,
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
    this.lastSeen.set(key, { atMs: nowMs });
    return false;
  }
}
