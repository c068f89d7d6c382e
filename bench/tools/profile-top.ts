// Prints the top self-time functions of a .cpuprofile (node --cpu-prof output),
// as a share of all samples and of the busy (non-idle) ones, then the busy time
// by where the code lives (ours, dependencies, Node's JS, native, GC).
// Usage: npx tsx bench/tools/profile-top.ts FILE [N]
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives; a frame without a URL is native (bindings, syscalls) or V8's own. */
function area(f: ProfileNode["callFrame"]): string {
  if (f.functionName === "(idle)") return "idle";
  if (f.functionName === "(garbage collector)") return "GC";
  if (f.functionName === "(program)") return "V8 (program)";
  if (f.url === "") return "native (bindings, syscalls)";
  if (f.url.startsWith("node:")) return "Node.js JS (net, streams, events)";
  if (f.url.includes("/node_modules/")) return "dependencies";
  return "ours";
}

const [file, countText] = process.argv.slice(2);
if (!file) throw new Error("usage: profile-top FILE [N]");
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
const areas = new Map<string, number>();
let total = 0;
let idle = 0;
profile.samples.forEach((id, i) => {
  const node = byId.get(id);
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  if (!node) return;
  const f = node.callFrame;
  const where = f.url.replace(/^.*\/(node_modules\/|dist\/)/, "$1");
  const key = `${f.functionName || "(anonymous)"} ${where}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + dt);
  const a = area(f);
  if (a === "idle") idle += dt;
  else areas.set(a, (areas.get(a) ?? 0) + dt);
});
const busy = Math.max(1, total - idle);
const pct = (us: number, of: number) => `${((us / of) * 100).toFixed(1).padStart(5)}%`;
process.stdout.write(
  `  total  busy  (busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s)\n`,
);
const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(countText ?? 25));
for (const [key, us] of top) {
  const busyShare = key.startsWith("(idle)") ? "     -" : pct(us, busy);
  process.stdout.write(`${pct(us, total)} ${busyShare}  ${key}\n`);
}
process.stdout.write("busy time by area:\n");
for (const [a, us] of [...areas.entries()].sort((x, y) => y[1] - x[1])) {
  process.stdout.write(`${pct(us, busy)}  ${a}\n`);
}
