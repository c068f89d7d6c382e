// Medians over several rediscpu runs: `npx tsx bench/tools/rediscpu-summary.ts
// bench/results/rediscpu-*.json` prints, per operation (and registered
// servers, and commands in flight), the median Redis CPU µs with the lowest
// and highest run, the median execution µs, and the calls per operation.
// On a shared box one run can catch a neighbour's burst: the median is the figure.
import { readFileSync } from "node:fs";

interface RowJson {
  operation: string;
  servers: number;
  inFlight: number;
  cpuUs: number;
  execUs: number;
  calls: Record<string, number>;
}

interface MemoryJson {
  servers: number;
  bytesPerServer: number;
  keysPerServer: number;
}

interface RunJson {
  result: { rows: RowJson[]; memory: MemoryJson[] };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write("usage: rediscpu-summary.ts RESULT.json ...\n");
  process.exit(2);
}
const runs = files.map((file) => JSON.parse(readFileSync(file, "utf8")) as RunJson);
const groups = new Map<string, RowJson[]>();
for (const run of runs)
  for (const row of run.result.rows) {
    const key = `${row.operation} | ${row.servers} | ${row.inFlight}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
const one = (value: number) => Math.round(value * 10) / 10;
const lines = [
  `${runs.length} runs`,
  "| operation | servers | in flight | Redis CPU µs/op: median (low–high) | exec µs/op (median) | commands/op |",
  "|---|---|---|---|---|---|",
];
for (const [key, rows] of groups) {
  const cpu = rows.map((r) => r.cpuUs);
  const calls = Object.entries(rows[0]?.calls ?? {})
    .filter(([name]) => name !== "returnedServers")
    .map(([name, n]) => `${name} ${n}`)
    .join(", ");
  lines.push(
    `| ${key} | ${one(median(cpu))} (${one(Math.min(...cpu))}–${one(Math.max(...cpu))}) | ` +
      `${one(median(rows.map((r) => r.execUs)))} | ${calls} |`,
  );
}
const sizes = new Map<number, MemoryJson[]>();
for (const run of runs)
  for (const point of run.result.memory)
    sizes.set(point.servers, [...(sizes.get(point.servers) ?? []), point]);
lines.push(
  "",
  "| registered servers | bytes per server (median) | keys per server |",
  "|---|---|---|",
);
for (const [servers, points] of [...sizes].sort((a, b) => a[0] - b[0]))
  lines.push(
    `| ${servers} | ${Math.round(median(points.map((p) => p.bytesPerServer)))} | ${points[0]?.keysPerServer} |`,
  );
process.stdout.write(`${lines.join("\n")}\n`);
