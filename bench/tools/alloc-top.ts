// Prints where a master allocates, from a .heapprofile written by
// `--alloc-sample` (every sampled allocation, collected or not): the top
// allocating functions, and the total relative to what Node's own net.Socket
// constructor allocated (one per TCP connection), so two processes that ran
// different numbers of connections compare per connection.
// Usage: npx tsx bench/tools/alloc-top.ts FILE [N]
import { readFileSync } from "node:fs";

interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampleNode[];
}

const [file, countText] = process.argv.slice(2);
if (!file) throw new Error("usage: alloc-top FILE [N]");
const root = (JSON.parse(readFileSync(file, "utf8")) as { head: SampleNode }).head;
const bySite = new Map<string, number>();
let total = 0;
const stack = [root];
for (let node = stack.pop(); node; node = stack.pop()) {
  const f = node.callFrame;
  const where = f.url.replace(/^.*\/(node_modules\/[^/]+|dist|floor-dist)\//, "$1/");
  const key = `${f.functionName || "(anonymous)"} ${where}:${f.lineNumber + 1}`;
  if (node.selfSize > 0) bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
  total += node.selfSize;
  stack.push(...node.children);
}
let socketBytes = 0;
for (const [site, bytes] of bySite) if (site.startsWith("Socket node:net:")) socketBytes += bytes;
const mb = (bytes: number) => (bytes / 1e6).toFixed(2).padStart(8);
console.log(`allocated ${mb(total)} MB in the window`);
if (socketBytes > 0)
  console.log(
    `per connection: ${(total / socketBytes).toFixed(2)}x what net.Socket's constructor allocates`,
  );
for (const [site, bytes] of [...bySite]
  .sort((a, b) => b[1] - a[1])
  .slice(0, Number(countText ?? 25)))
  console.log(`${mb(bytes)} MB ${((100 * bytes) / total).toFixed(1).padStart(5)} %  ${site}`);
