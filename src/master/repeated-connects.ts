// A second connect from the same client IP to the same server within the
// client's punch window most likely means the first punch failed: counted, so
// operators can tell punch failures from master failures. Bounded: the
// pairs seen longest ago give way.
import { RecencyMap } from "../util/recency-map.js";

const MAX_PAIRS = 10_000;

export class RepeatedConnects {
  private readonly lastSeen = new RecencyMap<string, true>(MAX_PAIRS);

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Notes a connect; true when the same pair connected within the window. */
  note(clientIp: string, serverIp: string): boolean {
    const key = `${clientIp}>${serverIp}`;
    const nowMs = this.now();
    const lastMs = this.lastSeen.setAt(key);
    this.lastSeen.set(key, true, nowMs);
    return lastMs !== undefined && nowMs - lastMs < this.windowMs;
  }
}
