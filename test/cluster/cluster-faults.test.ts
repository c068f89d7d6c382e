// Faults with nothing lost: Redis restarted empty or down, a node SIGKILLed
// or SIGTERMed. Each test owns its redis-server process.
import { afterEach, beforeEach, expect, it } from "vitest";
import { type NodeProcess, spawnNode } from "../helpers/processes.js";
import {
  MASTER_HOST,
  metricValue,
  RawTcp,
  Resources,
  type TestMaster,
  waitFor,
} from "../helpers/master.js";
import {
  commandCalls,
  OwnedRedisServer,
  redisServerBinary,
  uniquePrefix,
} from "../helpers/redis.js";
import { describeWith } from "../helpers/prerequisites.js";
import {
  NOT_FOUND,
  peerReply,
  tcpConnect,
  tcpReg2,
  UDP_CONNECT,
  UDP_REG,
} from "../helpers/wire.js";

const res = new Resources();
let redis: OwnedRedisServer;
let prefix: string;

beforeEach(async () => {
  redis = await OwnedRedisServer.start();
  prefix = uniquePrefix();
});
afterEach(async () => {
  await res.closeAll();
  await redis.stop();
});

function node(id: string, config: Record<string, unknown> = {}, http = false): Promise<TestMaster> {
  return res.master({
    nodeId: `${prefix}-${id}`,
    env: { REDIS_URL: redis.url, GMNET_KEY_PREFIX: prefix },
    config,
    http,
  });
}

async function spawn(
  id: string,
  host: string,
  env: Record<string, string> = {},
): Promise<NodeProcess> {
  const child = await spawnNode({
    nodeId: `${prefix}-${id}`,
    host,
    env: { REDIS_URL: redis.url, GMNET_KEY_PREFIX: prefix, GMNET_REPLY_GAP_MS: "20", ...env },
  });
  res.add(child, (c) => {
    if (c.child.exitCode === null) c.kill("SIGKILL");
    return c.exited;
  });
  return child;
}

async function registerRaw(port: number, ip: string, host = MASTER_HOST) {
  const udp = await res.udp(ip);
  await udp.send(UDP_REG, port, host);
  const tcp = res.add(await RawTcp.connect(port, ip, host), (t) => t.close());
  tcp.send(tcpReg2("1.2.4", ["Game"]));
  return { udp, tcp };
}

async function adminServer(child: NodeProcess, ip: string): Promise<number> {
  const response = await fetch(`http://${child.host}:${child.httpPort}/admin/servers/${ip}`);
  return response.status;
}

describeWith(redisServerBinary, "cluster faults (own redis-server)", () => {
  it("restores every live registration within one refresh after Redis restarts empty", async () => {
    const a = await node("a", { leaseMs: 1_500 });
    const b = await node("b", { leaseMs: 1_500 });
    await registerRaw(a.gamePort, "127.0.0.2");
    await waitFor(
      () => b.node.backend.registry.findServer("127.0.0.2").catch(() => null),
      5_000,
      "registration",
    );
    await redis.restart(); // SIGKILL + start on the same port: empty dataset
    const restored = await waitFor(
      () => b.node.backend.registry.findServer("127.0.0.2").catch(() => null),
      15_000,
      "the registration to be restored",
    );
    expect(restored.ownerNodeId).toBe(a.node.config.nodeId);
    expect(restored.udpPort).not.toBeNull();
  });

  it("stays up and READY while Redis is down (the store is reported, not required), connects answered -2 at once", async () => {
    const a = await node("a", { leaseMs: 1_500 }, true);
    expect((await fetch(`${a.httpUrl}/readyz`)).status).toBe(200);
    await redis.kill();
    await waitFor(
      async () => {
        const body = (await (await fetch(`${a.httpUrl}/readyz`)).json()) as {
          checks: { store: boolean };
        };
        return body.checks.store === false;
      },
      10_000,
      "the store reported down",
    );
    // Longer than any readiness probe window (3 × 10 s in the chart would be 30 s; the
    // point is that readiness never turns on the store): still 200, with the warning.
    const readyz = await fetch(`${a.httpUrl}/readyz`);
    expect(readyz.status).toBe(200);
    expect(((await readyz.json()) as { warnings: string[] }).warnings.join(" ")).toMatch(
      /store \(Redis\) is unreachable/,
    );
    const udp = await res.udp("127.0.0.3");
    await udp.send(UDP_CONNECT, a.gamePort);
    const client = await res.tcp(a.gamePort, "127.0.0.3");
    client.send(tcpConnect("127.0.0.2"));
    expect(await client.waitForBytes(1, 10_000)).toEqual(NOT_FOUND);
    const metrics = await (await fetch(`${a.httpUrl}/metrics`)).text();
    expect(metricValue(metrics, "gmnet_connect_outcomes_total", '{outcome="store_error"}')).toBe(1);
    expect(metricValue(metrics, "gmnet_store_up")).toBe(0);
    await redis.restart();
    await waitFor(
      async () =>
        metricValue(await (await fetch(`${a.httpUrl}/metrics`)).text(), "gmnet_store_up") === 1,
      15_000,
      "the store up again",
    );
  });

  it("answers -2 at once when the owning node was SIGKILLed, and lets the lease, not one missed delivery, remove the entry", async () => {
    const a = await spawn("a", "127.0.0.11", { GMNET_LEASE_MS: "3000" });
    const b = await spawn("b", "127.0.0.12", { GMNET_LEASE_MS: "3000" });
    const server = await registerRaw(a.port, "127.0.0.2", a.host);
    await waitFor(async () => (await adminServer(b, "127.0.0.2")) === 200, 5_000, "registration");
    a.kill("SIGKILL");
    await a.exited;
    await server.tcp.waitForClose();
    const udp = await res.udp("127.0.0.3");
    await udp.send(UDP_CONNECT, b.port, b.host);
    const client = res.add(await RawTcp.connect(b.port, "127.0.0.3", b.host), (t) => t.close());
    client.send(tcpConnect("127.0.0.2"));
    expect(await client.waitForBytes(1)).toEqual(NOT_FOUND);
    const metrics = await (await fetch(`http://${b.host}:${b.httpPort}/metrics`)).text();
    // A's heartbeat is still fresh: it could be a subscriber reconnecting, so nothing is deleted yet.
    expect(
      metricValue(metrics, "gmnet_connect_outcomes_total", '{outcome="owner_unreachable"}'),
    ).toBe(1);
    await waitFor(async () => (await adminServer(b, "127.0.0.2")) === 404, 8_000, "lease expiry");
  });

  it("expires a SIGKILLed node's registrations within the lease, with no connect needed", async () => {
    const a = await spawn("a", "127.0.0.11", { GMNET_LEASE_MS: "2000" });
    const b = await spawn("b", "127.0.0.12", { GMNET_LEASE_MS: "2000" });
    await registerRaw(a.port, "127.0.0.2", a.host);
    await waitFor(async () => (await adminServer(b, "127.0.0.2")) === 200, 5_000, "registration");
    const killedAt = Date.now();
    a.kill("SIGKILL");
    // Lease 2 s, pruned by B's refresh every lease/3: gone within lease + one refresh (+ slack).
    await waitFor(async () => (await adminServer(b, "127.0.0.2")) === 404, 6_000, "expiry");
    expect(Date.now() - killedAt).toBeGreaterThan(1_000); // not removed on the spot: it was a lease
  });

  it("drains on SIGTERM: not ready at once, resets a server that never pings by the deadline, exits 0, and removes an entry nobody re-registered", async () => {
    const a = await spawn("a", "127.0.0.11", {
      GMNET_DRAIN_TIMEOUT_MS: "2000",
      GMNET_HANDOVER_LEAD_MS: "500",
    });
    const b = await spawn("b", "127.0.0.12");
    const server = await registerRaw(a.port, "127.0.0.2", a.host);
    await waitFor(async () => (await adminServer(b, "127.0.0.2")) === 200, 5_000, "registration");
    a.kill("SIGTERM");
    await waitFor(
      async () =>
        (await fetch(`http://${a.host}:${a.httpPort}/readyz`).then((r) => r.status)) === 503,
      5_000,
      "not ready",
    );
    await server.tcp.waitForClose(5_000);
    expect(await a.exited).toBe(0);
    expect(await adminServer(b, "127.0.0.2")).toBe(404);
    expect(a.logs.some((line) => String(line.msg).startsWith("draining"))).toBe(true);
  });

  /** A server registered on node a, and a client (UDP and TCP) about to connect through node b. */
  async function crossNodeConnect() {
    const a = await node("a", { leaseMs: 600_000 });
    const b = await node("b", { leaseMs: 600_000 });
    const server = await registerRaw(a.gamePort, "127.0.0.2");
    await waitFor(() => b.node.backend.registry.findServer("127.0.0.2"), 5_000, "registration");
    const udp = await res.udp("127.0.0.3");
    const client = await res.tcp(b.gamePort, "127.0.0.3");
    return { a, b, server, udp, client };
  }

  it("costs one Redis round trip and one PUBLISH per cross-node connect (plus one for the UDP connect)", async () => {
    const { b, server, udp, client } = await crossNodeConnect();
    const probe = redis.client();
    try {
      await probe.config("RESETSTAT");
      await udp.send(UDP_CONNECT, b.gamePort);
      await waitFor(
        async () => (await commandCalls(probe)).evalsha === 1,
        5_000,
        "the UDP connect",
      );
      client.send(tcpConnect("127.0.0.2"));
      const expected = peerReply("127.0.0.2", server.udp.port);
      expect(await client.waitForBytes(expected.length)).toEqual(expected);
      await server.tcp.waitForBytes(1);
      const calls = await commandCalls(probe);
      // Top-level commands only: what scripts call inside Redis is not a round trip.
      expect(calls.evalsha).toBe(2);
      expect(calls.publish).toBe(1);
      expect(calls.eval ?? 0).toBe(0);
    } finally {
      probe.disconnect();
    }
  });

  it("costs the same when the TCP connect overtakes the UDP one: the UDP connect hands its port over, no second round trip", async () => {
    const { a, server, udp, client } = await crossNodeConnect();
    const probe = redis.client();
    try {
      await probe.config("RESETSTAT");
      client.send(tcpConnect("127.0.0.2"));
      // The connect is waiting (its begin-connect ran) before the UDP connect lands.
      await waitFor(async () => (await commandCalls(probe)).evalsha === 1, 5_000, "begin-connect");
      await udp.send(UDP_CONNECT, a.gamePort);
      const expected = peerReply("127.0.0.2", server.udp.port);
      expect(await client.waitForBytes(expected.length)).toEqual(expected);
      await server.tcp.waitForBytes(1);
      const calls = await commandCalls(probe);
      // begin-connect + the UDP record: two top-level scripts, no claim after the wake-up.
      expect(calls.evalsha).toBe(2);
      expect(calls.eval ?? 0).toBe(0);
      // The routed -1, plus the wake-up the UDP record's script publishes from inside Redis.
      expect(calls.publish).toBe(2);
    } finally {
      probe.disconnect();
    }
  });
});
