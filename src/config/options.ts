// Every configuration option, declared once: its flag, environment variable,
// parser, default and help. Defaults, --help, validation, the README's option
// table and the typed MasterConfig are all derived from this table.
import {
  anyText,
  bool,
  cidrList,
  hostPortList,
  int,
  ipAddress,
  oneOf,
  optional,
  redisUrl,
  textMatching,
  type ValueParser,
} from "./parsers.js";

export interface OptionSpec<T> {
  readonly flag: `--${string}`;
  readonly env: string;
  readonly parser: ValueParser<T>;
  /** The value when the option is not given; null for "none" or "derived at load" (see defaultText). */
  readonly default: T;
  /** How the docs show a default that is null or derived (otherwise the default itself). */
  readonly defaultText?: string;
  readonly help: string;
}

/** T comes from the parser alone, so a default of "full" types the option as the parser's union. */
function option<T>(
  spec: Omit<OptionSpec<T>, "default"> & { readonly default: NoInfer<T> },
): OptionSpec<T> {
  return spec;
}

const MS_HOUR = 3_600_000;

/** Every option, in the order --help and the README list them. */
export const OPTIONS = {
  host: option({
    flag: "--host",
    env: "GMNET_HOST",
    parser: ipAddress,
    default: "0.0.0.0",
    help: "Address the game port (TCP and UDP) binds; `::` for dual-stack IPv6+IPv4",
  }),
  port: option({
    flag: "--port",
    env: "GMNET_PORT",
    parser: int(1, 65535),
    default: 6510,
    help: "Game port, the same number for TCP and UDP",
  }),
  httpHost: option({
    flag: "--http-host",
    env: "GMNET_HTTP_HOST",
    parser: ipAddress,
    default: "0.0.0.0",
    help: "Address of the HTTP server (health, metrics, admin API)",
  }),
  httpPort: option({
    flag: "--http-port",
    env: "GMNET_HTTP_PORT",
    parser: int(0, 65535),
    default: 9510,
    help: "HTTP port; 0 turns the HTTP server off",
  }),
  redisUrl: option({
    flag: "--redis",
    env: "REDIS_URL",
    parser: optional(redisUrl),
    default: null,
    defaultText: "(none: in-memory)",
    help: "Redis URL (redis:// or rediss:// for TLS, with user and password if any); turns cluster mode on",
  }),
  redisSentinels: option({
    flag: "--redis-sentinels",
    env: "GMNET_REDIS_SENTINELS",
    parser: hostPortList,
    default: [],
    defaultText: "(none)",
    help: "Redis Sentinel addresses, host:port,host:port",
  }),
  redisSentinelName: option({
    flag: "--redis-sentinel-name",
    env: "GMNET_REDIS_SENTINEL_NAME",
    parser: anyText,
    default: "mymaster",
    help: "Sentinel master group name",
  }),
  redisClusterNodes: option({
    flag: "--redis-cluster-nodes",
    env: "GMNET_REDIS_CLUSTER_NODES",
    parser: hostPortList,
    default: [],
    defaultText: "(none)",
    help: "Redis Cluster seed nodes, host:port,host:port",
  }),
  redisPassword: option({
    flag: "--redis-password",
    env: "GMNET_REDIS_PASSWORD",
    parser: optional(anyText),
    default: null,
    defaultText: "(none)",
    help: "Redis password (with a URL: used when the URL carries none; giving both is an error)",
  }),
  keyPrefix: option({
    flag: "--key-prefix",
    env: "GMNET_KEY_PREFIX",
    parser: textMatching(
      /^[A-Za-z0-9:_.-]{1,64}$/,
      "letters, digits, : _ . - (1 to 64)",
      "may use letters, digits and : _ . - (1 to 64)",
    ),
    default: "gmnet",
    help: "Prefix of every Redis key and channel",
  }),
  nodeId: option({
    flag: "--node-id",
    env: "GMNET_NODE_ID",
    parser: optional(
      textMatching(
        /^[A-Za-z0-9_.:-]{1,128}$/,
        "letters, digits, _ . : - (1 to 128)",
        "may use letters, digits and _ . : - (1 to 128)",
      ),
    ),
    default: null,
    defaultText: "<hostname>-<random>",
    help: "This node's id in the cluster (unique per process)",
  }),
  logLevel: option({
    flag: "--log-level",
    env: "LOG_LEVEL",
    parser: oneOf(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    default: "info",
    help: "Log level",
  }),
  logIp: option({
    flag: "--log-ip",
    env: "GMNET_LOG_IP",
    parser: oneOf(["full", "hash", "truncate"]),
    default: "full",
    help: "How game IPs appear in logs: as is, hashed, or truncated to /24 (/48 for IPv6)",
  }),
  adminToken: option({
    flag: "--admin-token",
    env: "GMNET_ADMIN_TOKEN",
    parser: optional(anyText),
    default: null,
    defaultText: "(none: loopback only)",
    help: "Bearer token for /admin/*; without one the admin API answers only loopback clients",
  }),
  proxyProtocol: option({
    flag: "--proxy-protocol",
    env: "GMNET_PROXY_PROTOCOL",
    parser: oneOf(["off", "v1", "v2", "on"]),
    default: "off",
    help: "Expect a PROXY protocol header on every game TCP connection: v1 or v2 only, or on (either)",
  }),
  proxyTrustedCidrs: option({
    flag: "--proxy-trusted-cidrs",
    env: "GMNET_PROXY_TRUSTED_CIDRS",
    parser: cidrList,
    default: [],
    defaultText: "(none)",
    help: "Addresses allowed to send PROXY headers (the balancer's); required with --proxy-protocol, others are closed",
  }),
  drainTimeoutMs: option({
    flag: "--drain-timeout-ms",
    env: "GMNET_DRAIN_TIMEOUT_MS",
    parser: optional(int(0, 24 * MS_HOUR)),
    default: null,
    defaultText: "ping interval + 30000",
    help: "On SIGTERM: the deadline for handing every game server over to other nodes",
  }),
  serverPingIntervalMs: option({
    flag: "--server-ping-interval-ms",
    env: "GMNET_SERVER_PING_INTERVAL_MS",
    parser: int(1000, 24 * MS_HOUR),
    default: 180_000,
    help: "Games' keepalive interval (GML udphp_rctintv); a draining node expects this cadence until it has seen a server's own pings",
  }),
  handoverLeadMs: option({
    flag: "--handover-lead-ms",
    env: "GMNET_HANDOVER_LEAD_MS",
    parser: int(0, 60_000),
    default: 2_000,
    help: "A draining node resets a server's socket this long before its expected ping, so that ping fails and the game re-registers elsewhere",
  }),
  leaseMs: option({
    flag: "--lease-ms",
    env: "GMNET_LEASE_MS",
    parser: int(1000, MS_HOUR),
    default: 15_000,
    help: "Registrations of a node that stops refreshing them (killed) expire after this",
  }),
  clientUdpWaitMs: option({
    flag: "--client-udp-wait-ms",
    env: "GMNET_CLIENT_UDP_WAIT_MS",
    parser: int(0, 60_000),
    default: 2_000,
    help: "How long a TCP connect waits for the client's UDP connect before answering -2 (at most the client UDP TTL)",
  }),
  clientUdpTtlMs: option({
    flag: "--client-udp-ttl-ms",
    env: "GMNET_CLIENT_UDP_TTL_MS",
    parser: int(100, 600_000),
    default: 10_000,
    help: "How long a client's UDP endpoint stays claimable",
  }),
  serverUdpBindWindowMs: option({
    flag: "--server-udp-bind-window-ms",
    env: "GMNET_SERVER_UDP_BIND_WINDOW_MS",
    parser: int(100, 600_000),
    default: 10_000,
    help: "A server's UDP reg binds only to a TCP registration from the same IP within this window",
  }),
  replyGapMs: option({
    flag: "--reply-gap-ms",
    env: "GMNET_REPLY_GAP_MS",
    parser: int(0, 10_000),
    default: 100,
    help: "Minimum gap between two replies on one socket (a game reads one reply per step)",
  }),
  idleTimeoutMs: option({
    flag: "--idle-timeout-ms",
    env: "GMNET_IDLE_TIMEOUT_MS",
    parser: int(100, MS_HOUR),
    default: 10_000,
    help: "Close TCP sockets that send no complete command within this time",
  }),
  lobbyEnabled: option({
    flag: "--lobby",
    env: "GMNET_LOBBY",
    parser: bool,
    default: true,
    help: "Answer lobby2 requests",
  }),
  lobbyOrder: option({
    flag: "--lobby-order",
    env: "GMNET_LOBBY_ORDER",
    parser: oneOf(["documented", "reference"]),
    default: "documented",
    help: "`documented`: DESC = newest first (GML docs); `reference`: the Java master's inverted order",
  }),
  minVersion: option({
    flag: "--min-version",
    env: "GMNET_MIN_VERSION",
    parser: textMatching(
      /^(\d+(\.\d+)*)?$/,
      "a dotted version",
      "is not a dotted version like 1.2.0",
    ),
    default: "",
    defaultText: "(none)",
    help: "Close reg2 registrations below this version (e.g. 1.2.0, as the reference does)",
  }),
  maxLineBytes: option({
    flag: "--max-line-bytes",
    env: "GMNET_MAX_LINE_BYTES",
    parser: int(64, 65_536),
    default: 1024,
    help: "Longest accepted TCP line; longer input closes the connection",
  }),
  udpReceiveBufferBytes: option({
    flag: "--udp-receive-buffer-bytes",
    env: "GMNET_UDP_RECEIVE_BUFFER_BYTES",
    parser: int(65_536, 1 << 30),
    default: 4 * 1024 * 1024,
    help: "UDP receive buffer the node asks the kernel for (bursts of reg/connect; capped by net.core.rmem_max)",
  }),
  ipv6PrefixLength: option({
    flag: "--ipv6-prefix-length",
    env: "GMNET_IPV6_PREFIX_LENGTH",
    parser: int(32, 128),
    default: 64,
    help: "Per-source limits count an IPv6 source by this prefix (one home or VM holds a whole /64); IPv4 by address",
  }),
  maxTrackedSources: option({
    flag: "--max-tracked-sources",
    env: "GMNET_MAX_TRACKED_SOURCES",
    parser: int(1000, 10_000_000),
    default: 100_000,
    help: "Sources each per-source table (rate limits, UDP endpoints in memory) holds at most; past it those not seen for longest are forgotten, half the table at a time (the newest half is always kept)",
  }),
  udpRatePerEndpoint: option({
    flag: "--udp-rate-per-endpoint",
    env: "GMNET_UDP_RATE_PER_ENDPOINT",
    parser: int(0, 1_000_000),
    default: 5,
    help: "UDP datagrams per second accepted from one source address and port (burst: twice that); excess is dropped and counted. 0 = unlimited",
  }),
  udpStoreRate: option({
    flag: "--udp-store-rate",
    env: "GMNET_UDP_STORE_RATE",
    parser: int(0, 10_000_000),
    default: 5_000,
    help: "UDP reg/connect datagrams per second one node records in the store (burst: twice that); beyond, they are dropped and counted, which bounds Redis keys and load under a spoofed flood. 0 = unlimited",
  }),
  maxConnections: option({
    flag: "--max-connections",
    env: "GMNET_MAX_CONNECTIONS",
    parser: int(0, 10_000_000),
    default: 0,
    defaultText: "0 (auto: the smaller of open-file limit - 256 and memory limit / 2 / 8 KiB)",
    help: "Open game TCP connections per node; beyond, new ones are closed and counted. 0 derives it: 256 descriptors of the open-file limit stay for HTTP, Redis and logs, and connections take at most half the memory limit (the cgroup's, else the machine's) at 8 KiB each",
  }),
  maxConnectionsPerSource: option({
    flag: "--max-connections-per-source",
    env: "GMNET_MAX_CONNECTIONS_PER_SOURCE",
    parser: int(1, 1_000_000),
    default: 256,
    help: "Open TCP connections allowed from one source (IPv4 address or IPv6 prefix); more are closed at once and counted",
  }),
  maxServersPerSource: option({
    flag: "--max-servers-per-source",
    env: "GMNET_MAX_SERVERS_PER_SOURCE",
    parser: int(1, 1_000_000),
    default: 8,
    help: "Addresses of one source that may hold a game server registration on a node (an IPv4 address is its own source; this caps an IPv6 prefix); beyond, the registration is closed and counted. A game registering again from its own address is never refused",
  }),
  maxBufferedBytesPerSocket: option({
    flag: "--max-buffered-bytes-per-socket",
    env: "GMNET_MAX_BUFFERED_BYTES_PER_SOCKET",
    parser: int(1024, 64 * 1024 * 1024),
    default: 16_384,
    help: "Reply bytes a socket may leave unread; a slower reader is closed and its buffers released",
  }),
  connectRatePerSource: option({
    flag: "--connect-rate-per-source",
    env: "GMNET_CONNECT_RATE_PER_SOURCE",
    parser: int(0, 1_000_000),
    default: 10,
    help: "TCP connect requests per second from one source (burst: twice that); beyond, they are answered -2 and counted. 0 = unlimited",
  }),
  serverReplyBacklog: option({
    flag: "--server-reply-backlog",
    env: "GMNET_SERVER_REPLY_BACKLOG",
    parser: int(1, 100_000),
    default: 20,
    help: "-1 replies that may wait (paced) for one game server; a connect beyond is answered -2 rather than a -1 that would arrive after the punch window",
  }),
  lobbyRatePerSource: option({
    flag: "--lobby-rate-per-source",
    env: "GMNET_LOBBY_RATE_PER_SOURCE",
    parser: int(0, 1_000_000),
    default: 5,
    help: "lobby2 requests per second from one source (burst: twice that); beyond, they get an empty list and are counted. 0 = unlimited",
  }),
  lobbyReplyMaxBytes: option({
    flag: "--lobby-reply-max-bytes",
    env: "GMNET_LOBBY_REPLY_MAX_BYTES",
    parser: int(64, 16 * 1024 * 1024),
    default: 1200,
    help: "Largest -7 lobby reply; servers past it are left out (whole entries). 1200 fits one TCP segment on any path, which a game reads in one event",
  }),
  lobbyDataMaxBytes: option({
    flag: "--lobby-data-max-bytes",
    env: "GMNET_LOBBY_DATA_MAX_BYTES",
    parser: int(1, 1024),
    default: 64,
    help: "Longest stored lobby data field (data1..data8, UTF-8 bytes); longer ones are cut and counted. 64: eight full fields, even JSON-escaped, still fit one 1200-byte lobby reply",
  }),
  lobbyCacheMs: option({
    flag: "--lobby-cache-ms",
    env: "GMNET_LOBBY_CACHE_MS",
    parser: int(0, 60_000),
    default: 1_000,
    help: "A node answers identical lobby2 queries from its own copy for this long (0: ask the store every time)",
  }),
  lobbyStoreRate: option({
    flag: "--lobby-store-rate",
    env: "GMNET_LOBBY_STORE_RATE",
    parser: int(0, 1_000_000),
    default: 20,
    help: "Lobby queries per second one node sends its store, whatever the number of sources (burst: twice that); beyond, a query gets the last answer to the same query however old, or an empty list, counted. 0 = unlimited",
  }),
  lobbyScanLimit: option({
    flag: "--lobby-scan-limit",
    env: "GMNET_LOBBY_SCAN_LIMIT",
    parser: int(1, 10_000_000),
    default: 1_000,
    help: "Servers one lobby query reads at most (newest first; within data1 when filtered) before sorting by a data field",
  }),
  configFile: option({
    flag: "--config",
    env: "GMNET_CONFIG",
    parser: optional(anyText),
    default: null,
    defaultText: "(none)",
    help: "JSON file with any of these options, by their camelCase key",
  }),
};

export type OptionKey = keyof typeof OPTIONS;

/** The typed value of every option, as the table declares it. */
export type OptionValues = {
  -readonly [K in OptionKey]: (typeof OPTIONS)[K] extends OptionSpec<infer T> ? T : never;
};
