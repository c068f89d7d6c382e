// Redis' own counters, read and differenced: INFO commandstats (calls and
// execution µs per command), INFO cpu (the server process's user+sys CPU),
// used_memory and DBSIZE. One snapshot before and one after a batch of
// operations gives what that batch cost Redis, per operation.
import type { Redis } from "ioredis";
import { readdirSync } from "node:fs";
import { RedisScript } from "../../src/cluster/redis/redis-script.js";

export interface CommandStat {
  calls: number;
  usec: number;
}

export interface RedisSnapshot {
  atMs: number;
  /** used_cpu_user + used_cpu_sys, µs. */
  cpuUs: number;
  commands: Map<string, CommandStat>;
  usedMemory: number;
  keys: number;
}

/** What one batch cost, per operation of it. */
export interface PerOperation {
  operations: number;
  wallMs: number;
  /** Redis process CPU (user+sys) per operation, µs, minus its idle rate over the same time. */
  cpuUs: number;
  /** Execution time of every command per operation (commandstats usec), µs. */
  execUs: number;
  /** Calls per operation by command (Lua-internal calls included: commandstats counts them). */
  calls: Record<string, number>;
  /** EVALSHA calls per operation (each one network round trip). */
  evalsha: number;
}

/** Commands the measurement itself sends (never part of an operation's cost). */
const OWN_COMMANDS = new Set(["info", "dbsize", "config|resetstat", "ping"]);

/** Commands a node sends itself; anything else in a batch ran inside a script or EXEC. */
export const TOP_LEVEL: ReadonlySet<string> = new Set([
  "evalsha",
  "eval",
  "publish",
  "spublish",
  "multi",
  "exec",
]);

export function parseInfo(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf(":");
    if (at > 0) values[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return values;
}

export function parseCommandStats(text: string): Map<string, CommandStat> {
  const commands = new Map<string, CommandStat>();
  for (const line of text.split("\n")) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (match)
      commands.set(match[1] as string, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return commands;
}

export async function snapshot(client: Redis): Promise<RedisSnapshot> {
  const text = await client.info("all");
  const info = parseInfo(text);
  return {
    atMs: performance.now(),
    cpuUs: Math.round((Number(info.used_cpu_user) + Number(info.used_cpu_sys)) * 1e6),
    commands: parseCommandStats(text),
    usedMemory: Number(info.used_memory),
    keys: await client.dbsize(),
  };
}

const round = (value: number, places = 2) => Math.round(value * 10 ** places) / 10 ** places;

/** What Redis did between two snapshots (several windows can be added up). */
export interface RedisDelta {
  wallMs: number;
  cpuUs: number;
  commands: Map<string, CommandStat>;
}

export function emptyDelta(): RedisDelta {
  return { wallMs: 0, cpuUs: 0, commands: new Map() };
}

export function diff(before: RedisSnapshot, after: RedisSnapshot): RedisDelta {
  const commands = new Map<string, CommandStat>();
  for (const [name, stat] of after.commands) {
    if (OWN_COMMANDS.has(name)) continue;
    const prior = before.commands.get(name) ?? { calls: 0, usec: 0 };
    if (stat.calls > prior.calls)
      commands.set(name, { calls: stat.calls - prior.calls, usec: stat.usec - prior.usec });
  }
  return { wallMs: after.atMs - before.atMs, cpuUs: after.cpuUs - before.cpuUs, commands };
}

export function addDelta(total: RedisDelta, more: RedisDelta): RedisDelta {
  const commands = new Map(total.commands);
  for (const [name, stat] of more.commands) {
    const prior = commands.get(name) ?? { calls: 0, usec: 0 };
    commands.set(name, { calls: prior.calls + stat.calls, usec: prior.usec + stat.usec });
  }
  return {
    wallMs: total.wallMs + more.wallMs,
    cpuUs: total.cpuUs + more.cpuUs,
    commands,
  };
}

/**
 * The cost of `operations` done within `delta`, per operation.
 * `idleCpuUsPerSec` is Redis' own background rate (serverCron), subtracted.
 */
export function perOperation(
  delta: RedisDelta,
  operations: number,
  idleCpuUsPerSec: number,
  /** The commands that arrived over the network, when a script also ran one of them (PUBLISH). */
  outerCommands: ReadonlySet<string> = TOP_LEVEL,
): PerOperation {
  const n = Math.max(1, operations);
  const calls: Record<string, number> = {};
  for (const [name, stat] of delta.commands) calls[name] = round(stat.calls / n, 3);
  // A script's (or EXEC's) usec already covers the commands it ran: count the
  // commands that arrived over the network only, when there are any.
  const names = [...delta.commands.keys()];
  const outer = names.filter((name) => outerCommands.has(name));
  const usec = (outer.length > 0 ? outer : names).reduce(
    (sum, name) => sum + (delta.commands.get(name)?.usec ?? 0),
    0,
  );
  const cpu = delta.cpuUs - (idleCpuUsPerSec * delta.wallMs) / 1000;
  return {
    operations,
    wallMs: round(delta.wallMs, 1),
    cpuUs: round(Math.max(0, cpu) / n, 1),
    execUs: round(usec / n, 1),
    calls,
    evalsha: calls.evalsha ?? 0,
  };
}

/** Which script an EVALSHA seen by MONITOR runs, told by its SHA. */
export function scriptOf(args: readonly string[]): string {
  const name = scriptNamesBySha().get(args[1] ?? "");
  return name === undefined ? "evalsha (other)" : `evalsha ${name}`;
}

let namesBySha: Map<string, string> | null = null;

/** Every script the node runs, by the SHA its EVALSHA names (from the same sources). */
function scriptNamesBySha(): Map<string, string> {
  if (namesBySha) return namesBySha;
  const dir = new URL("../../src/cluster/redis/lua/", import.meta.url);
  namesBySha = new Map();
  for (const file of readdirSync(dir)) {
    const name = file.replace(/\.lua$/, "");
    if (name === file || name === "prelude") continue;
    namesBySha.set(new RedisScript(name, (reply) => reply).sha, name);
  }
  return namesBySha;
}
