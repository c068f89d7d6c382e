// The one way to report bad input: a counter, and at most one log line a
// second per reason, carrying how many were suppressed in between.
import type { Logger } from "pino";
import type { BadInputReason } from "./bad-input.js";
import type { MasterMetrics } from "./metrics.js";
import { LogThrottle } from "./util/log-throttle.js";

export class BadInputLog {
  private readonly throttle = new LogThrottle();

  constructor(
    private readonly metrics: MasterMetrics,
    private readonly logger: Logger,
  ) {}

  /** Counts one `reason`; logs `message` with `context` unless one was logged this second. */
  report(
    reason: BadInputReason,
    message: string,
    context: object = {},
    logger = this.logger,
  ): void {
    this.metrics.badInput.inc({ reason });
    const suppressed = this.throttle.allow(reason);
    if (suppressed !== null) logger.warn({ ...context, reason, suppressed }, message);
  }
}
