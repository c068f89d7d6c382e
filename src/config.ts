// One validated configuration object, built once at start from defaults, an
// optional JSON file, environment variables and command-line flags (in that
// order of precedence, last wins). Nothing else reads process.env.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";

export type LogIpMode = "full" | "hash" | "truncate";
export type ProxyProtocolMode = "off" | "v1" | "v2" | "on";
export type LobbyOrder = "documented" | "reference";

export interface HostPort {
  host: string;
  port: number;
}

export type RedisTarget =
  | { kind: "url"; url: string }
  | { kind: "sentinel"; sentinels: HostPort[]; name: string; password: string | null }
  | { kind: "cluster"; nodes: HostPort[]; password: string | null };

export interface MasterConfig {
  host: string;
  port: number;
  httpHost: string;
  /** 0 disables the HTTP server. */
  httpPort: number;
  nodeId: string;
  redis: RedisTarget | null;
  keyPrefix: string;
  logLevel: string;
  logIp: LogIpMode;
  adminToken: string | null;
  proxyProtocol: ProxyProtocolMode;
  drainTimeoutMs: number;
  leaseMs: number;
  clientUdpWaitMs: number;
  clientUdpTtlMs: number;
  serverUdpBindWindowMs: number;
  replyGapMs: number;
  idleTimeoutMs: number;
  lobbyEnabled: boolean;
  lobbyOrder: LobbyOrder;
  minVersion: string;
  maxLineBytes: number;
  udpReceiveBufferBytes: number;
  udpRatePerIp: number;
  maxConnectionsPerIp: number;
}

type OptionType = "int" | "string" | "bool" | "list";

interface OptionSpec {
  key: string;
  flag: string;
  env: string;
  type: OptionType;
  defaultText: string;
  description: string;
  choices?: readonly string[];
  min?: number;
  max?: number;
}

/** Every option, in the order --help and the README list them. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    key: "host",
    flag: "--host",
    env: "GMNET_HOST",
    type: "string",
    defaultText: "0.0.0.0",
    description: "Address the game port (TCP and UDP) binds; `::` for dual-stack IPv6+IPv4",
  },
  {
    key: "port",
    flag: "--port",
    env: "GMNET_PORT",
    type: "int",
    defaultText: "6510",
    min: 1,
    max: 65535,
    description: "Game port, the same number for TCP and UDP",
  },
  {
    key: "httpHost",
    flag: "--http-host",
    env: "GMNET_HTTP_HOST",
    type: "string",
    defaultText: "0.0.0.0",
    description: "Address of the HTTP server (health, metrics, admin API)",
  },
  {
    key: "httpPort",
    flag: "--http-port",
    env: "GMNET_HTTP_PORT",
    type: "int",
    defaultText: "9510",
    min: 0,
    max: 65535,
    description: "HTTP port; 0 turns the HTTP server off",
  },
  {
    key: "nodeId",
    flag: "--node-id",
    env: "GMNET_NODE_ID",
    type: "string",
    defaultText: "<hostname>-<random>",
    description: "This node's id in the cluster (unique per process)",
  },
  {
    key: "redisUrl",
    flag: "--redis",
    env: "REDIS_URL",
    type: "string",
    defaultText: "(none: in-memory)",
    description: "Redis URL (redis:// or rediss:// with password/TLS); turns cluster mode on",
  },
  {
    key: "redisSentinels",
    flag: "--redis-sentinels",
    env: "GMNET_REDIS_SENTINELS",
    type: "list",
    defaultText: "(none)",
    description: "Redis Sentinel addresses, host:port,host:port",
  },
  {
    key: "redisSentinelName",
    flag: "--redis-sentinel-name",
    env: "GMNET_REDIS_SENTINEL_NAME",
    type: "string",
    defaultText: "mymaster",
    description: "Sentinel master group name",
  },
  {
    key: "redisClusterNodes",
    flag: "--redis-cluster-nodes",
    env: "GMNET_REDIS_CLUSTER_NODES",
    type: "list",
    defaultText: "(none)",
    description: "Redis Cluster seed nodes, host:port,host:port",
  },
  {
    key: "redisPassword",
    flag: "--redis-password",
    env: "GMNET_REDIS_PASSWORD",
    type: "string",
    defaultText: "(none)",
    description: "Password for Sentinel / Cluster mode (a URL carries its own)",
  },
  {
    key: "keyPrefix",
    flag: "--key-prefix",
    env: "GMNET_KEY_PREFIX",
    type: "string",
    defaultText: "gmnet",
    description: "Prefix of every Redis key and channel",
  },
  {
    key: "logLevel",
    flag: "--log-level",
    env: "LOG_LEVEL",
    type: "string",
    defaultText: "info",
    choices: ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
    description: "Log level",
  },
  {
    key: "logIp",
    flag: "--log-ip",
    env: "GMNET_LOG_IP",
    type: "string",
    defaultText: "full",
    choices: ["full", "hash", "truncate"],
    description: "How game IPs appear in logs: as is, hashed, or truncated to /24 (/48 for IPv6)",
  },
  {
    key: "adminToken",
    flag: "--admin-token",
    env: "GMNET_ADMIN_TOKEN",
    type: "string",
    defaultText: "(none: open)",
    description: "Bearer token required by /admin/* routes",
  },
  {
    key: "proxyProtocol",
    flag: "--proxy-protocol",
    env: "GMNET_PROXY_PROTOCOL",
    type: "string",
    defaultText: "off",
    choices: ["off", "v1", "v2", "on"],
    description:
      "Expect a PROXY protocol header on every game TCP connection (when not off, v1 and v2 are both accepted)",
  },
  {
    key: "drainTimeoutMs",
    flag: "--drain-timeout-ms",
    env: "GMNET_DRAIN_TIMEOUT_MS",
    type: "int",
    defaultText: "10000",
    min: 0,
    max: 600000,
    description: "On SIGTERM: how long to let in-flight connects finish before closing sockets",
  },
  {
    key: "leaseMs",
    flag: "--lease-ms",
    env: "GMNET_LEASE_MS",
    type: "int",
    defaultText: "15000",
    min: 1000,
    max: 3600000,
    description: "Registrations of a node that stops refreshing them (killed) expire after this",
  },
  {
    key: "clientUdpWaitMs",
    flag: "--client-udp-wait-ms",
    env: "GMNET_CLIENT_UDP_WAIT_MS",
    type: "int",
    defaultText: "2000",
    min: 0,
    max: 60000,
    description: "How long a TCP connect waits for the client's UDP connect before answering -2",
  },
  {
    key: "clientUdpTtlMs",
    flag: "--client-udp-ttl-ms",
    env: "GMNET_CLIENT_UDP_TTL_MS",
    type: "int",
    defaultText: "10000",
    min: 100,
    max: 600000,
    description: "How long a client's UDP endpoint stays claimable",
  },
  {
    key: "serverUdpBindWindowMs",
    flag: "--server-udp-bind-window-ms",
    env: "GMNET_SERVER_UDP_BIND_WINDOW_MS",
    type: "int",
    defaultText: "10000",
    min: 100,
    max: 600000,
    description:
      "A server's UDP reg binds only to a TCP registration from the same IP within this window",
  },
  {
    key: "replyGapMs",
    flag: "--reply-gap-ms",
    env: "GMNET_REPLY_GAP_MS",
    type: "int",
    defaultText: "100",
    min: 0,
    max: 10000,
    description: "Minimum gap between two replies on one socket (a game reads one reply per step)",
  },
  {
    key: "idleTimeoutMs",
    flag: "--idle-timeout-ms",
    env: "GMNET_IDLE_TIMEOUT_MS",
    type: "int",
    defaultText: "10000",
    min: 100,
    max: 3600000,
    description: "Close TCP sockets that send no complete command within this time",
  },
  {
    key: "lobbyEnabled",
    flag: "--lobby",
    env: "GMNET_LOBBY",
    type: "bool",
    defaultText: "true",
    description: "Answer lobby2 requests",
  },
  {
    key: "lobbyOrder",
    flag: "--lobby-order",
    env: "GMNET_LOBBY_ORDER",
    type: "string",
    defaultText: "documented",
    choices: ["documented", "reference"],
    description:
      "`documented`: DESC = newest first (GML docs); `reference`: the Java master's inverted order",
  },
  {
    key: "minVersion",
    flag: "--min-version",
    env: "GMNET_MIN_VERSION",
    type: "string",
    defaultText: "(none)",
    description: "Close reg2 registrations below this version (e.g. 1.2.0, as the reference does)",
  },
  {
    key: "maxLineBytes",
    flag: "--max-line-bytes",
    env: "GMNET_MAX_LINE_BYTES",
    type: "int",
    defaultText: "1024",
    min: 64,
    max: 65536,
    description: "Longest accepted TCP line; longer input closes the connection",
  },
  {
    key: "udpRatePerIp",
    flag: "--udp-rate-per-ip",
    env: "GMNET_UDP_RATE_PER_IP",
    type: "int",
    defaultText: "20",
    min: 0,
    max: 1000000,
    description:
      "UDP datagrams per second accepted from one IP (burst: twice that); excess is dropped and counted. 0 = unlimited",
  },
  {
    key: "maxConnectionsPerIp",
    flag: "--max-connections-per-ip",
    env: "GMNET_MAX_CONNECTIONS_PER_IP",
    type: "int",
    defaultText: "256",
    min: 1,
    max: 1000000,
    description: "Open TCP connections allowed from one IP; more are closed at once and counted",
  },
  {
    key: "configFile",
    flag: "--config",
    env: "GMNET_CONFIG",
    type: "string",
    defaultText: "(none)",
    description: "JSON file with any of these options, by their camelCase key",
  },
];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

export interface ConfigSources {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile?: (path: string) => string;
}

type RawValues = Map<string, { value: string | boolean | number | string[]; source: string }>;

/** Parses flags of the form `--name value`, `--name=value` and bare boolean `--lobby` / `--no-lobby`. */
function readFlags(argv: readonly string[], raw: RawValues, problems: string[]): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--help" || arg === "-h" || arg === "--version") continue;
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const negated = name.startsWith("--no-");
    const spec = OPTIONS.find((o) => o.flag === (negated ? `--${name.slice(5)}` : name));
    if (!spec) {
      problems.push(`unknown option ${arg}`);
      continue;
    }
    if (spec.type === "bool" && eq < 0) {
      const next = argv[i + 1];
      if (!negated && (next === "true" || next === "false")) {
        raw.set(spec.key, { value: next, source: spec.flag });
        i++;
      } else raw.set(spec.key, { value: !negated, source: spec.flag });
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) {
      problems.push(`${spec.flag} needs a value`);
      continue;
    }
    raw.set(spec.key, { value, source: spec.flag });
  }
}

function parseHostPortList(text: string[], source: string, problems: string[]): HostPort[] {
  const result: HostPort[] = [];
  for (const item of text) {
    const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(item.trim());
    const port = match ? Number(match[2]) : Number.NaN;
    if (!match || port < 1 || port > 65535) problems.push(`${source}: "${item}" is not host:port`);
    else result.push({ host: match[1] as string, port });
  }
  return result;
}

export function loadConfig(sources: ConfigSources): MasterConfig {
  const problems: string[] = [];
  const raw: RawValues = new Map();
  const flagValues: RawValues = new Map();
  readFlags(sources.argv, flagValues, problems);

  const configFile =
    (flagValues.get("configFile")?.value as string | undefined) ?? sources.env.GMNET_CONFIG;
  if (configFile) {
    try {
      const text = (sources.readFile ?? ((path) => readFileSync(path, "utf8")))(configFile);
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        problems.push(`config file ${configFile}: expected a JSON object`);
      } else {
        for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
          const spec = OPTIONS.find((o) => o.key === key);
          if (!spec || key === "configFile")
            problems.push(`config file ${configFile}: unknown key "${key}"`);
          else if (
            typeof value === "string" ||
            typeof value === "number" ||
            typeof value === "boolean"
          )
            raw.set(key, { value, source: `${configFile}:${key}` });
          else if (Array.isArray(value) && value.every((v) => typeof v === "string"))
            raw.set(key, { value: value as string[], source: `${configFile}:${key}` });
          else problems.push(`config file ${configFile}: "${key}" has an unsupported type`);
        }
      }
    } catch (error) {
      problems.push(`config file ${configFile}: ${(error as Error).message}`);
    }
  }
  for (const spec of OPTIONS) {
    const value = sources.env[spec.env];
    if (value !== undefined && value !== "") raw.set(spec.key, { value, source: spec.env });
  }
  for (const [key, value] of flagValues) raw.set(key, value);

  const str = (key: string): string | null => {
    const entry = raw.get(key);
    if (!entry) return null;
    const spec = OPTIONS.find((o) => o.key === key) as OptionSpec;
    const text = Array.isArray(entry.value) ? entry.value.join(",") : String(entry.value);
    if (spec.choices && !spec.choices.includes(text)) {
      problems.push(`${entry.source}: "${text}" is not one of ${spec.choices.join(", ")}`);
      return null;
    }
    return text;
  };
  const int = (key: string, fallback: number): number => {
    const entry = raw.get(key);
    if (!entry) return fallback;
    const spec = OPTIONS.find((o) => o.key === key) as OptionSpec;
    const text = String(entry.value).trim();
    const value = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
    if (
      !Number.isSafeInteger(value) ||
      value < (spec.min ?? 0) ||
      value > (spec.max ?? Number.MAX_SAFE_INTEGER)
    ) {
      problems.push(
        `${entry.source}: "${text}" is not a whole number from ${spec.min ?? 0} to ${spec.max}`,
      );
      return fallback;
    }
    return value;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const entry = raw.get(key);
    if (!entry) return fallback;
    if (typeof entry.value === "boolean") return entry.value;
    const text = String(entry.value).trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(text)) return true;
    if (["false", "0", "no", "off"].includes(text)) return false;
    problems.push(`${entry.source}: "${text}" is not true or false`);
    return fallback;
  };
  const list = (key: string): string[] => {
    const entry = raw.get(key);
    if (!entry) return [];
    const items = Array.isArray(entry.value) ? entry.value : String(entry.value).split(",");
    return items.map((item) => item.trim()).filter((item) => item !== "");
  };
  // Errors name where the bad value came from (flag, env var or file key).
  const sourceOf = (key: string): string => raw.get(key)?.source ?? key;
  const address = (key: string, fallback: string): string => {
    const text = str(key) ?? fallback;
    if (isIP(text) === 0)
      problems.push(`${raw.get(key)?.source ?? key}: "${text}" is not an IP address`);
    return text;
  };

  const redisPassword = str("redisPassword");
  let redis: RedisTarget | null = null;
  const redisUrl = str("redisUrl");
  const sentinels = list("redisSentinels");
  const clusterNodes = list("redisClusterNodes");
  const redisModes = [redisUrl, sentinels.length, clusterNodes.length].filter(Boolean).length;
  if (redisModes > 1) {
    problems.push("choose one of REDIS_URL, GMNET_REDIS_SENTINELS and GMNET_REDIS_CLUSTER_NODES");
  } else if (redisUrl) {
    if (!/^rediss?:\/\//.test(redisUrl))
      problems.push(`${sourceOf("redisUrl")}: "${redisUrl}" must start with redis:// or rediss://`);
    redis = { kind: "url", url: redisUrl };
  } else if (sentinels.length > 0) {
    redis = {
      kind: "sentinel",
      sentinels: parseHostPortList(sentinels, "GMNET_REDIS_SENTINELS", problems),
      name: str("redisSentinelName") ?? "mymaster",
      password: redisPassword,
    };
  } else if (clusterNodes.length > 0) {
    redis = {
      kind: "cluster",
      nodes: parseHostPortList(clusterNodes, "GMNET_REDIS_CLUSTER_NODES", problems),
      password: redisPassword,
    };
  }

  const minVersion = str("minVersion") ?? "";
  if (minVersion !== "" && !/^\d+(\.\d+)*$/.test(minVersion)) {
    problems.push(`${sourceOf("minVersion")}: "${minVersion}" is not a dotted version like 1.2.0`);
  }
  const keyPrefix = str("keyPrefix") ?? "gmnet";
  if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(keyPrefix)) {
    problems.push(
      `${sourceOf("keyPrefix")}: "${keyPrefix}" may use letters, digits and : _ . - (1 to 64)`,
    );
  }
  const nodeId = str("nodeId") ?? `${hostname()}-${randomBytes(3).toString("hex")}`;
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(nodeId)) {
    problems.push(
      `${sourceOf("nodeId")}: "${nodeId}" may use letters, digits and _ . : - (1 to 128)`,
    );
  }

  const config: MasterConfig = {
    host: address("host", "0.0.0.0"),
    port: int("port", 6510),
    httpHost: address("httpHost", "0.0.0.0"),
    httpPort: int("httpPort", 9510),
    nodeId,
    redis,
    keyPrefix,
    logLevel: str("logLevel") ?? "info",
    logIp: (str("logIp") ?? "full") as LogIpMode,
    adminToken: str("adminToken"),
    proxyProtocol: (str("proxyProtocol") ?? "off") as ProxyProtocolMode,
    drainTimeoutMs: int("drainTimeoutMs", 10_000),
    leaseMs: int("leaseMs", 15_000),
    clientUdpWaitMs: int("clientUdpWaitMs", 2_000),
    clientUdpTtlMs: int("clientUdpTtlMs", 10_000),
    serverUdpBindWindowMs: int("serverUdpBindWindowMs", 10_000),
    replyGapMs: int("replyGapMs", 100),
    idleTimeoutMs: int("idleTimeoutMs", 10_000),
    lobbyEnabled: bool("lobbyEnabled", true),
    lobbyOrder: (str("lobbyOrder") ?? "documented") as LobbyOrder,
    minVersion,
    maxLineBytes: int("maxLineBytes", 1024),
    udpReceiveBufferBytes: int("udpReceiveBufferBytes", 4 * 1024 * 1024),
    udpRatePerIp: int("udpRatePerIp", 20),
    maxConnectionsPerIp: int("maxConnectionsPerIp", 256),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

export function helpText(): string {
  const lines = [
    "gmnet-master: a GMnet PUNCH / GATE.PUNCH master server (UDP hole punching)",
    "",
    "Usage: gmnet-master [options]",
    "",
    "Options (flag / environment variable, default):",
  ];
  for (const spec of OPTIONS) {
    const value =
      spec.type === "bool" ? `${spec.flag} / --no-${spec.flag.slice(2)}` : `${spec.flag} <value>`;
    lines.push(`  ${value}`);
    lines.push(`      env ${spec.env}, default ${spec.defaultText}`);
    lines.push(`      ${spec.description.replaceAll("`", "")}`);
  }
  lines.push("", "  -h, --help       this text", "  --version        print the version");
  return lines.join("\n");
}
