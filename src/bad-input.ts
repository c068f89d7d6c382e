// Bad input, declared once: every reason the node rejects or trims input for,
// and the one way to report it (a counter, and at most one log line a second
// per reason, carrying how many were suppressed in between).
import type { Logger } from "pino";
import type { MasterMetrics } from "./metrics.js";
import { LogThrottle } from "./util/log-throttle.js";

export const BAD_INPUT_REASONS = [
  // TCP commands the codec refuses (the connection is closed)
  "unknown_command",
  "line_too_long",
  "bad_argument",
  "command_flood",
  "idle_timeout",
  "slow_reader",
  // connections refused at the door
  "too_many_connections",
  "node_connection_limit",
  "proxy_header",
  "proxy_untrusted",
  // UDP datagrams dropped
  "udp_empty_datagram",
  "udp_bad_datagram",
  "udp_unknown_command",
  "udp_bad_source",
  "udp_rate_limited",
  "udp_store_budget",
  // UDP endpoints that disagree (a forger, or a NAT that remapped)
  "udp_port_conflict",
  // well-formed but abusive commands (answered, not served)
  "connect_rate_limited",
  "lobby_rate_limited",
  "lobby_data_truncated",
  "too_many_servers",
  "version_too_low",
  "bad_server_ip",
  // between nodes
  "bus_message",
] as const;

export type BadInputReason = (typeof BAD_INPUT_REASONS)[number];

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
