// The default cap on open game connections: what the node's descriptors and
// its memory allow, whichever is smaller. Node has no getrlimit: the
// open-file limit comes from /proc/self/limits, the memory limit from the
// container's cgroup (or the machine's memory outside one).
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";

/** Descriptors kept for HTTP, Redis, logs and timers when the cap is derived. */
export const DESCRIPTOR_RESERVE = 256;

/**
 * Memory one game connection is budgeted. Measured: ~4.6 KiB of RSS per idle
 * connection (15,000 idle sockets added 67 MiB, measured with the review's
 * conn-mem script), 6.8–7.2 KB per registered server socket (bench memory);
 * rounded up for its kernel socket memory, which a cgroup counts too.
 */
export const BYTES_PER_CONNECTION = 8 * 1024;

/** The share of the memory limit game connections may take: the rest is the runtime (~85 MiB idle), registrations, replies and bursts. */
export const CONNECTION_MEMORY_FRACTION = 0.5;

/** Where no limit can be read, and the least any derived cap allows. */
const FALLBACK_CAP = 10_000;
const MIN_CAP = 64;

const readText = (path: string): string => readFileSync(path, "utf8");

/** The soft RLIMIT_NOFILE, or null where it cannot be read. */
export function openFileLimit(
  read: () => string = () => readText("/proc/self/limits"),
): number | null {
  try {
    const line = read()
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
    if (soft === "unlimited") return Number.MAX_SAFE_INTEGER;
    const value = Number(soft);
    return Number.isSafeInteger(value) && value > 0 ? value : null;
  } catch {
    return null;
  }
}

/** Memory limit files: cgroup v2 ("max" when unlimited), then cgroup v1 (a huge number when unlimited). */
const CGROUP_MEMORY_LIMITS = [
  "/sys/fs/cgroup/memory.max",
  "/sys/fs/cgroup/memory/memory.limit_in_bytes",
];

/** The memory this process may use: its cgroup's limit, or the machine's memory, whichever is smaller. */
export function memoryLimitBytes(
  read: (path: string) => string = readText,
  machineBytes = totalmem(),
): number {
  let limit = machineBytes;
  for (const path of CGROUP_MEMORY_LIMITS) {
    let text: string;
    try {
      text = read(path).trim();
    } catch {
      continue; // not this cgroup version, or not in a cgroup
    }
    const bytes = Number(text);
    if (text !== "max" && Number.isSafeInteger(bytes) && bytes > 0) limit = Math.min(limit, bytes);
    break;
  }
  return limit;
}

export interface NodeLimits {
  openFiles: number | null;
  memoryBytes: number;
}

export interface ConnectionCap {
  maxConnections: number;
  /** What set it, for the start-up log line. */
  boundBy: "configured" | "open files" | "memory";
}

/** The node's cap on open game connections: configured, or the smaller of what descriptors and memory allow. */
export function connectionCap(
  configured: number,
  limits: NodeLimits = { openFiles: openFileLimit(), memoryBytes: memoryLimitBytes() },
): ConnectionCap {
  if (configured > 0) return { maxConnections: configured, boundBy: "configured" };
  const byFiles =
    limits.openFiles === null
      ? FALLBACK_CAP
      : Math.max(MIN_CAP, limits.openFiles - DESCRIPTOR_RESERVE);
  const byMemory = Math.max(
    MIN_CAP,
    Math.floor((limits.memoryBytes * CONNECTION_MEMORY_FRACTION) / BYTES_PER_CONNECTION),
  );
  return byMemory < byFiles
    ? { maxConnections: byMemory, boundBy: "memory" }
    : { maxConnections: byFiles, boundBy: "open files" };
}
