// The capacity of one Redis core from per-operation CPU figures: what each
// kind of load alone fills at a set utilisation (registered servers through
// their lease refresh, connects/s, lobby queries/s, registrations/s), and a
// mixed example. Arithmetic only; the figures come from the rediscpu rows.
import { refreshIntervalMs } from "../../src/cluster/timing.js";

export interface CostRow {
  operation: string;
  inFlight: number;
  servers: number;
  cpuUs: number;
}

export interface CapacityModel {
  utilisation: number;
  /** The lease the refresh cadence is taken from (the default, whatever the run used). */
  leaseMs: number;
  /** Per in-flight level measured: the figures and what one core carries. */
  byInFlight: Array<{
    inFlight: number;
    connectUdpFirstUs: number;
    connectTcpFirstUs: number;
    registrationUs: number;
    refreshPerServerUs: number;
    refreshPerServerPerSecUs: number;
    serversAlone: number;
    connectsPerSecAlone: number;
    registrationsPerSecAlone: number;
  }>;
  lobby: Array<{ query: string; servers: number; cpuUs: number; perSecAlone: number }>;
  mixed: { servers: number; refreshShare: number; connectsPerSecLeft: number } | null;
  headline: string;
  text: string;
}

const DEFAULT_LEASE_MS = 15_000;

function pick(rows: readonly CostRow[], prefix: string, inFlight: number): CostRow | undefined {
  const matching = rows.filter((r) => r.operation.startsWith(prefix));
  return (
    matching.filter((r) => r.inFlight === inFlight).at(-1) ??
    matching.filter((r) => r.inFlight === 1).at(-1)
  );
}

const cost = (rows: readonly CostRow[], prefix: string, inFlight: number) =>
  pick(rows, prefix, inFlight)?.cpuUs ?? Number.NaN;

const whole = (value: number) =>
  Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "?";

export function capacityModel(
  rows: readonly CostRow[],
  utilisation = 0.7,
  leaseMs = DEFAULT_LEASE_MS,
): CapacityModel {
  const budgetUs = utilisation * 1e6;
  const intervalSec = refreshIntervalMs(leaseMs) / 1000;
  const levels = [...new Set(rows.map((r) => r.inFlight))].sort((a, b) => a - b);
  const byInFlight = levels.map((inFlight) => {
    const udpFirst =
      cost(rows, "client UDP `connect` record (kept)", inFlight) +
      cost(rows, "TCP connect: begin-connect, UDP first", inFlight) +
      cost(rows, "routed PUBLISH", inFlight);
    const tcpFirst =
      cost(rows, "TCP connect: begin-connect, TCP first", inFlight) +
      cost(rows, "client UDP `connect` handed", inFlight) +
      cost(rows, "routed PUBLISH", inFlight);
    const registration =
      cost(rows, "server UDP `reg` record", inFlight) + cost(rows, "registration", inFlight);
    const refresh = cost(rows, "lease refresh", 1);
    return {
      inFlight,
      connectUdpFirstUs: Math.round(udpFirst * 10) / 10,
      connectTcpFirstUs: Math.round(tcpFirst * 10) / 10,
      registrationUs: Math.round(registration * 10) / 10,
      refreshPerServerUs: refresh,
      refreshPerServerPerSecUs: Math.round((refresh / intervalSec) * 1000) / 1000,
      serversAlone: Math.floor(budgetUs / (refresh / intervalSec)),
      connectsPerSecAlone: Math.floor(budgetUs / Math.max(udpFirst, tcpFirst)),
      registrationsPerSecAlone: Math.floor(budgetUs / registration),
    };
  });
  const lobby = rows
    .filter((r) => r.operation.startsWith("lobby"))
    .map((r) => ({
      query: r.operation,
      servers: r.servers,
      cpuUs: r.cpuUs,
      perSecAlone: Math.floor(budgetUs / r.cpuUs),
    }));
  const conservative = byInFlight[0];
  const mixedServers = 100_000;
  const mixed = conservative
    ? (() => {
        const refreshUs = mixedServers * conservative.refreshPerServerPerSecUs;
        return {
          servers: mixedServers,
          refreshShare: Math.round((refreshUs / 1e6) * 1000) / 1000,
          connectsPerSecLeft: Math.floor(
            Math.max(0, budgetUs - refreshUs) /
              Math.max(conservative.connectUdpFirstUs, conservative.connectTcpFirstUs),
          ),
        };
      })()
    : null;
  const pct = `${Math.round(utilisation * 100)} %`;
  const headline = conservative
    ? `${whole(conservative.serversAlone)} servers (refresh alone) or ` +
      `${whole(conservative.connectsPerSecAlone)} connects/s (alone), 1 in flight`
    : "?";
  const lines = [
    `One Redis core at ${pct} (${whole(budgetUs)} µs of CPU a second), refresh every ${intervalSec} s (lease ${leaseMs / 1000} s):`,
  ];
  for (const level of byInFlight)
    lines.push(
      `  ${level.inFlight} in flight: connect ${level.connectUdpFirstUs} µs (UDP first) / ` +
        `${level.connectTcpFirstUs} µs (TCP first) -> ${whole(level.connectsPerSecAlone)} connects/s; ` +
        `refresh ${level.refreshPerServerUs} µs per server = ${level.refreshPerServerPerSecUs} µs/s -> ` +
        `${whole(level.serversAlone)} servers; registration ${level.registrationUs} µs -> ` +
        `${whole(level.registrationsPerSecAlone)}/s`,
    );
  for (const l of lobby)
    lines.push(`  ${l.query} at ${l.servers}: ${l.cpuUs} µs -> ${whole(l.perSecAlone)} queries/s`);
  if (mixed)
    lines.push(
      `  ${whole(mixed.servers)} servers use ${Math.round(mixed.refreshShare * 1000) / 10} % of the core; ` +
        `${whole(mixed.connectsPerSecLeft)} connects/s fit in the rest`,
    );
  return { utilisation, leaseMs, byInFlight, lobby, mixed, headline, text: lines.join("\n") };
}
