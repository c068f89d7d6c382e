// The process's open-file limit (Linux /proc/self/limits; Node has no getrlimit),
// from which the default cap on game connections is derived.
import { readFileSync } from "node:fs";

/** Descriptors kept for HTTP, Redis, logs and timers when the cap is derived. */
export const DESCRIPTOR_RESERVE = 256;

/** The soft RLIMIT_NOFILE, or null where it cannot be read. */
export function openFileLimit(
  read: () => string = () => readFileSync("/proc/self/limits", "utf8"),
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

/** The node's cap on open game connections: configured, or the open-file limit minus the reserve. */
export function connectionCap(configured: number, limit = openFileLimit()): number {
  if (configured > 0) return configured;
  if (limit === null) return 10_000;
  return Math.max(64, limit - DESCRIPTOR_RESERVE);
}
