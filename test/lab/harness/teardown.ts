// Can this host run the lab, and leaving nothing behind: every namespace a
// lab creates is deleted with the processes inside it, on close, on the test
// runner's exit or signal, and (for runs that crashed) by the next run's sweep
// of `gml<pid>-*` namespaces whose pid is gone.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Lab namespaces are `gml<pid>-<role>`: the pid tells a sweep whether their run is alive. */
export const PREFIX_RE = /^gml(\d+)-/;

export interface LabAvailability {
  ok: boolean;
  reason?: string;
}

function haveBin(name: string): boolean {
  for (const dir of (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin")
    .split(":")
    .concat(["/usr/sbin", "/sbin"])) {
    if (dir && existsSync(`${dir}/${name}`)) return true;
  }
  return false;
}

/** Can this host run the lab? (root, ip, iptables, conntrack, netns support) */
export function labAvailability(extraBins: string[] = []): LabAvailability {
  if (process.platform !== "linux") return { ok: false, reason: "NAT lab needs Linux" };
  if (typeof process.getuid !== "function" || process.getuid() !== 0)
    return { ok: false, reason: "NAT lab needs root (network namespaces, iptables)" };
  for (const b of ["ip", "iptables", "iptables-restore", "conntrack", ...extraBins]) {
    if (!haveBin(b))
      return {
        ok: false,
        reason: `NAT lab needs \`${b}\` on PATH (apt-get install -y iproute2 iptables conntrack redis-server)`,
      };
  }
  const probe = `gml${process.pid}-probe`;
  try {
    execFileSync("ip", ["netns", "add", probe], { stdio: "pipe" });
    execFileSync("ip", ["-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1"], {
      stdio: "pipe",
    });
    execFileSync(
      "ip",
      [
        "netns",
        "exec",
        probe,
        "iptables",
        "-t",
        "nat",
        "-A",
        "PREROUTING",
        "-p",
        "udp",
        "-m",
        "statistic",
        "--mode",
        "nth",
        "--every",
        "2",
        "--packet",
        "0",
        "-j",
        "DNAT",
        "--to-destination",
        "198.51.100.11",
      ],
      { stdio: "pipe" },
    );
  } catch (e) {
    return {
      ok: false,
      reason: `cannot create namespaces/veth/iptables nat: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`,
    };
  } finally {
    try {
      execFileSync("ip", ["netns", "del", probe], { stdio: "pipe" });
    } catch {
      /* not created */
    }
  }
  return { ok: true };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function listNetns(): string[] {
  try {
    const out = execFileSync("ip", ["netns", "list"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return out
      .split("\n")
      .map((l) => l.trim().split(/\s+/)[0] ?? "")
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Kill every process inside `ns` (by pid) and delete the namespace. Synchronous; never throws. */
export function destroyNetnsSync(ns: string): void {
  try {
    const pids = execFileSync("ip", ["netns", "pids", ns], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    })
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  } catch {
    /* ns gone */
  }
  try {
    execFileSync("ip", ["netns", "del", ns], { stdio: "pipe" });
  } catch {
    /* already gone */
  }
}

/** Delete namespaces `gml<pid>-*` whose creating process no longer exists. Returns what was removed. */
export function sweepStaleLabs(): string[] {
  const removed: string[] = [];
  for (const ns of listNetns()) {
    const m = PREFIX_RE.exec(ns);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    destroyNetnsSync(ns);
    removed.push(ns);
  }
  return removed;
}

/** Something torn down synchronously when the test runner exits or is signalled. */
export interface SyncDestroyable {
  destroySync(): void;
}

const live = new Set<SyncDestroyable>();
let exitHookInstalled = false;

/** Tear `lab` down if this process exits or is signalled before it is closed. */
export function destroyOnExit(lab: SyncDestroyable): void {
  live.add(lab);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const l of live) l.destroySync();
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      for (const l of live) l.destroySync();
      process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
    });
  }
}

/** Closed normally: no exit hook needed any more. */
export function forget(lab: SyncDestroyable): void {
  live.delete(lab);
}
