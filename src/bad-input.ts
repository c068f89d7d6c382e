// Bad input, declared once: every reason the node rejects or trims input for
// (the metric's labels and the log's reasons both come from here; the one way
// to report one is bad-input-log.ts).

export const BAD_INPUT_REASONS = [
  // TCP commands the codec refuses (the connection is closed)
  "unknown_command",
  "line_too_long",
  "bad_argument",
  "command_flood",
  "idle_timeout",
  // open longer than any game needs (registered servers are exempt)
  "socket_lifetime",
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
