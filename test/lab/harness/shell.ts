// Runs commands inside the lab's network namespaces: one command, a batch of
// `ip` commands, an iptables ruleset, sysctls. Every failure names the command
// and carries its stderr, so a broken lab says what broke.
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export interface ShResult {
  stdout: string;
  stderr: string;
}

/** Runs a command in the root namespace (only the `ip` family of tools is ever run here). */
export async function run(cmd: string, args: string[]): Promise<ShResult> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, {
      encoding: "utf8",
      maxBuffer: 16 << 20,
    });
    return { stdout, stderr };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${err.stderr?.trim() || err.message}`);
  }
}

/** Runs a command inside a namespace and waits for it. */
export function sh(ns: string, argv: string[]): Promise<ShResult> {
  return run("ip", ["netns", "exec", ns, ...argv]);
}

/** Feeds `input` to a command's stdin; rejects with its stderr when it exits non-zero. */
function pipeTo(argv: string[], input: string, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const [cmd, ...args] = argv as [string, ...string[]];
    const c = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let err = "";
    c.stderr.on("data", (d) => {
      err += d;
    });
    c.on("error", reject);
    c.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${what} failed: ${err.trim()}\n${input}`)),
    );
    c.stdin.end(input);
  });
}

/**
 * Lines look like `-n NS <ip args>`; consecutive lines for one namespace run as
 * one `ip -n NS -batch -` (building the topology one command at a time is slow).
 */
export async function ipBatch(lines: string[]): Promise<void> {
  const groups: Array<{ ns: string; cmds: string[] }> = [];
  for (const line of lines) {
    const m = /^-n (\S+) (.*)$/.exec(line);
    if (!m) throw new Error(`bad batch line ${line}`);
    const [, ns, cmd] = m as unknown as [string, string, string];
    const last = groups[groups.length - 1];
    if (last && last.ns === ns) last.cmds.push(cmd);
    else groups.push({ ns, cmds: [cmd] });
  }
  for (const g of groups)
    await pipeTo(
      ["ip", "-n", g.ns, "-batch", "-"],
      `${g.cmds.join("\n")}\n`,
      `ip -n ${g.ns} -batch`,
    );
}

/** Replaces the tables named in `rules` (iptables-restore format) inside a namespace. */
export function iptablesRestore(ns: string, rules: string): Promise<void> {
  return pipeTo(
    ["ip", "netns", "exec", ns, "iptables-restore"],
    rules,
    `iptables-restore in ${ns}`,
  );
}

export async function sysctl(ns: string, kv: Record<string, string | number>): Promise<void> {
  await sh(ns, ["sysctl", "-q", ...Object.entries(kv).map(([k, v]) => `${k}=${v}`)]);
}
