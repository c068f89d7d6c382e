import { describe, expect, it } from "vitest";
import { MasterMetrics } from "../../src/metrics.js";

async function value(
  metric: { get(): Promise<{ values: Array<{ value: number; labels: object }> }> },
  labels: Record<string, string>,
): Promise<number | undefined> {
  const { values } = await metric.get();
  return values.find((entry) =>
    Object.entries(labels).every(
      ([key, v]) => (entry.labels as Record<string, unknown>)[key] === v,
    ),
  )?.value;
}

describe("per-connect metrics counted as plain numbers", () => {
  it("each count reaches prom-client once, however often it is read", async () => {
    const metrics = new MasterMetrics({ processMetrics: false });
    metrics.countConnectOutcome("found");
    metrics.countConnectOutcome("found");
    expect(await value(metrics.connectOutcomes, { outcome: "found" })).toBe(2);
    expect(await value(metrics.connectOutcomes, { outcome: "found" })).toBe(2);
    metrics.countConnectOutcome("found");
    expect(await value(metrics.connectOutcomes, { outcome: "found" })).toBe(3);
    // Every outcome series exists from the start.
    expect(await value(metrics.connectOutcomes, { outcome: "store_error" })).toBe(0);
  });

  it("commands and datagrams keep their other results beside the counted ok ones", async () => {
    const metrics = new MasterMetrics({ processMetrics: false });
    metrics.countTcpCommandOk("connect");
    metrics.tcpCommands.inc({ command: "invalid", result: "line_too_long" });
    metrics.countDatagramOk("reg");
    expect(await value(metrics.tcpCommands, { command: "connect", result: "ok" })).toBe(1);
    expect(await value(metrics.tcpCommands, { command: "invalid", result: "line_too_long" })).toBe(
      1,
    );
    expect(await value(metrics.udpDatagrams, { command: "reg", result: "ok" })).toBe(1);
  });

  it("open connections by role follow +1 and -1, every role shown from the start", async () => {
    const metrics = new MasterMetrics({ processMetrics: false });
    expect(await value(metrics.tcpConnections, { role: "lobby" })).toBe(0);
    metrics.countConnection("unknown", 1);
    metrics.countConnection("unknown", 1);
    metrics.countConnection("unknown", -1);
    metrics.countConnection("server", 1);
    expect(await value(metrics.tcpConnections, { role: "unknown" })).toBe(1);
    expect(await value(metrics.tcpConnections, { role: "server" })).toBe(1);
    expect(await metrics.prometheus.metrics()).toContain('gmnet_tcp_connections{role="server"} 1');
  });
});
