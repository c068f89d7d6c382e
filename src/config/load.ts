// One validated configuration object, built once at start from defaults, an
// optional JSON file, environment variables and command-line flags (in that
// order of precedence, last wins). Nothing else reads process.env.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { StartupError } from "../errors.js";
import { OPTIONS, type OptionKey, type OptionSpec, type OptionValues } from "./options.js";
import type { HostPort, RawValue } from "./parsers.js";

export type LogIpMode = OptionValues["logIp"];
export type ProxyProtocolMode = OptionValues["proxyProtocol"];
export type LobbyOrder = OptionValues["lobbyOrder"];

export type RedisTarget =
  | { kind: "url"; url: string; password: string | null }
  | { kind: "sentinel"; sentinels: HostPort[]; name: string; password: string | null }
  | { kind: "cluster"; nodes: HostPort[]; password: string | null };

/** The Redis options fold into one `redis` target; null defaults are resolved. */
type StoreOptionKey =
  | "redisUrl"
  | "redisSentinels"
  | "redisSentinelName"
  | "redisClusterNodes"
  | "redisPassword"
  | "configFile";

export type MasterConfig = Omit<OptionValues, StoreOptionKey | "nodeId" | "drainTimeoutMs"> & {
  nodeId: string;
  redis: RedisTarget | null;
  drainTimeoutMs: number;
};

export class ConfigError extends StartupError {
  constructor(readonly problems: string[]) {
    super("config", `invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

export interface ConfigSources {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile?: (path: string) => string;
}

/** A raw value and where it came from (a flag, an env variable, a file key), for error lines. */
interface Sourced {
  value: RawValue;
  source: string;
}

const OPTION_KEYS = Object.keys(OPTIONS) as OptionKey[];
const spec = (key: OptionKey): OptionSpec<unknown> => OPTIONS[key] as OptionSpec<unknown>;
const byFlag = new Map(OPTION_KEYS.map((key) => [spec(key).flag, key]));

/** Flags of the form `--name value`, `--name=value` and bare boolean `--lobby` / `--no-lobby`. */
function readFlags(argv: readonly string[], problems: string[]): Map<OptionKey, Sourced> {
  const raw = new Map<OptionKey, Sourced>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--help" || arg === "-h" || arg === "--version") continue;
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const negated = name.startsWith("--no-");
    const key = byFlag.get((negated ? `--${name.slice(5)}` : name) as `--${string}`);
    if (key === undefined || (negated && spec(key).parser.kind !== "bool")) {
      problems.push(`unknown option ${arg}`);
      continue;
    }
    const source = spec(key).flag;
    if (spec(key).parser.kind === "bool" && eq < 0) {
      const next = argv[i + 1];
      if (!negated && (next === "true" || next === "false")) {
        raw.set(key, { value: next, source });
        i++;
      } else raw.set(key, { value: !negated, source });
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) problems.push(`${source} needs a value`);
    else raw.set(key, { value, source });
  }
  return raw;
}

function readFile(
  path: string,
  read: (path: string) => string,
  problems: string[],
): Map<OptionKey, Sourced> {
  const raw = new Map<OptionKey, Sourced>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(read(path));
  } catch (error) {
    problems.push(`config file ${path}: ${(error as Error).message}`);
    return raw;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    problems.push(`config file ${path}: expected a JSON object`);
    return raw;
  }
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    const key = OPTION_KEYS.find((k) => k === name);
    if (key === undefined || key === "configFile")
      problems.push(`config file ${path}: unknown key "${name}"`);
    else if (["string", "number", "boolean"].includes(typeof value))
      raw.set(key, { value: value as RawValue, source: `${path}:${name}` });
    else if (Array.isArray(value) && value.every((v) => typeof v === "string"))
      raw.set(key, { value: value as string[], source: `${path}:${name}` });
    else problems.push(`config file ${path}: "${name}" has an unsupported type`);
  }
  return raw;
}

export function loadConfig(sources: ConfigSources): MasterConfig {
  const problems: string[] = [];
  const flags = readFlags(sources.argv, problems);
  const configFile = flags.get("configFile")?.value ?? sources.env[spec("configFile").env];
  const raw =
    typeof configFile === "string" && configFile !== ""
      ? readFile(configFile, sources.readFile ?? ((p) => readFileSync(p, "utf8")), problems)
      : new Map<OptionKey, Sourced>();
  for (const key of OPTION_KEYS) {
    const value = sources.env[spec(key).env];
    if (value !== undefined && value !== "") raw.set(key, { value, source: spec(key).env });
  }
  for (const [key, value] of flags) raw.set(key, value);

  const values: Record<string, unknown> = {};
  const invalid = new Set<OptionKey>();
  for (const key of OPTION_KEYS) {
    const given = raw.get(key);
    if (!given) {
      values[key] = spec(key).default;
      continue;
    }
    const parsed = spec(key).parser.parse(given.value);
    if (parsed.ok) values[key] = parsed.value;
    else {
      for (const problem of parsed.problems) problems.push(`${given.source}: ${problem}`);
      values[key] = spec(key).default;
      invalid.add(key);
    }
  }
  const options = values as OptionValues;
  // Cross-option rules name the options as the user gave them.
  const named = (key: OptionKey) => raw.get(key)?.source ?? spec(key).env;

  const redis = redisTarget(options, named, problems);
  if (
    options.proxyProtocol !== "off" &&
    options.proxyTrustedCidrs.length === 0 &&
    !invalid.has("proxyTrustedCidrs")
  ) {
    problems.push(
      `${named("proxyProtocol")}: PROXY protocol needs ${spec("proxyTrustedCidrs").env} (the balancer's addresses); without it anyone could claim any source address`,
    );
  }
  // A reply larger than a socket may leave unread would close its own reader as slow.
  if (
    options.lobbyReplyMaxBytes > options.maxBufferedBytesPerSocket &&
    !invalid.has("lobbyReplyMaxBytes") &&
    !invalid.has("maxBufferedBytesPerSocket")
  ) {
    problems.push(
      `${named("lobbyReplyMaxBytes")}: ${options.lobbyReplyMaxBytes} is more than ${named("maxBufferedBytesPerSocket")} (${options.maxBufferedBytesPerSocket}); a reply that size would close its reader as slow`,
    );
  }
  // A waiting connect's queue entry and the port handed to it live one client UDP TTL.
  if (
    options.clientUdpWaitMs > options.clientUdpTtlMs &&
    !invalid.has("clientUdpWaitMs") &&
    !invalid.has("clientUdpTtlMs")
  ) {
    problems.push(
      `${named("clientUdpWaitMs")}: ${options.clientUdpWaitMs} is more than ${named("clientUdpTtlMs")} (${options.clientUdpTtlMs}); a connect would wait longer than the UDP endpoint handed to it is kept`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const {
    redisUrl: _url,
    redisSentinels: _sentinels,
    redisSentinelName: _name,
    redisClusterNodes: _nodes,
    redisPassword: _password,
    configFile: _file,
    ...rest
  } = options;
  return {
    ...rest,
    nodeId: options.nodeId ?? `${hostname()}-${randomBytes(3).toString("hex")}`,
    drainTimeoutMs: options.drainTimeoutMs ?? options.serverPingIntervalMs + 30_000,
    redis,
  };
}

function redisTarget(
  options: OptionValues,
  named: (key: OptionKey) => string,
  problems: string[],
): RedisTarget | null {
  const { redisUrl, redisSentinels, redisClusterNodes, redisPassword } = options;
  const modes = [redisUrl !== null, redisSentinels.length > 0, redisClusterNodes.length > 0];
  if (modes.filter(Boolean).length > 1) {
    problems.push(
      `choose one of ${named("redisUrl")}, ${named("redisSentinels")} and ${named("redisClusterNodes")}`,
    );
    return null;
  }
  if (redisUrl !== null) {
    if (redisPassword !== null && urlHasPassword(redisUrl)) {
      problems.push(
        `${named("redisPassword")}: ${named("redisUrl")} already carries a password; give it once`,
      );
    }
    return { kind: "url", url: redisUrl, password: redisPassword };
  }
  if (redisSentinels.length > 0) {
    return {
      kind: "sentinel",
      sentinels: redisSentinels,
      name: options.redisSentinelName,
      password: redisPassword,
    };
  }
  if (redisClusterNodes.length > 0)
    return { kind: "cluster", nodes: redisClusterNodes, password: redisPassword };
  return null;
}

function urlHasPassword(url: string): boolean {
  try {
    return new URL(url).password !== "";
  } catch {
    return false;
  }
}
