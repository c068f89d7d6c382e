// The same cross-node introduction through Redis Sentinel and through a
// three-shard Redis Cluster (sharded pub/sub, hash-tagged keys).
import { afterEach, describe, expect, it } from "vitest";
import { MASTER_HOST, RawTcp, Resources, type TestMaster, waitFor } from "../helpers/master.js";
import { type NodeProcess, spawnNode } from "../helpers/processes.js";
import {
  hasRedisServerBinary,
  startRedisCluster,
  startSentinelSetup,
  uniquePrefix,
} from "../helpers/redis.js";
import {
  NOT_FOUND,
  peerReply,
  tcpConnect,
  tcpReg2,
  UDP_CONNECT,
  UDP_REG,
} from "../helpers/wire.js";

const res = new Resources();
afterEach(async () => {
  await res.closeAll();
});

async function introduceAcrossNodes(
  a: TestMaster,
  b: TestMaster,
  serverIp: string,
  clientIp: string,
) {
  const serverUdp = await res.udp(serverIp);
  await serverUdp.send(UDP_REG, a.gamePort);
  const serverTcp = await res.tcp(a.gamePort, serverIp);
  serverTcp.send(tcpReg2("1.2.4", ["Game"]));
  await waitFor(
    async () => (await b.node.backend.registry.findServer(serverIp))?.udpPort,
    10_000,
    "registration",
  );
  const clientUdp = await res.udp(clientIp);
  const clientTcp = await res.tcp(b.gamePort, clientIp);
  clientTcp.send(tcpConnect(serverIp));
  await clientUdp.send(UDP_CONNECT, a.gamePort); // lands on A, wakes B
  const toClient = peerReply(serverIp, serverUdp.port);
  const toServer = peerReply(clientIp, clientUdp.port);
  expect(await clientTcp.waitForBytes(toClient.length, 10_000)).toEqual(toClient);
  expect(await serverTcp.waitForBytes(toServer.length, 10_000)).toEqual(toServer);
}

describe.skipIf(!hasRedisServerBinary())("Redis topologies", () => {
  it("introduces across nodes through Redis Sentinel", async () => {
    const setup = res.add(await startSentinelSetup(), (s) => s.close());
    const prefix = uniquePrefix();
    const env = {
      GMNET_REDIS_SENTINELS: setup.sentinel,
      GMNET_REDIS_SENTINEL_NAME: setup.name,
      GMNET_KEY_PREFIX: prefix,
    };
    const a = await res.master({ nodeId: `${prefix}-a`, env });
    const b = await res.master({ nodeId: `${prefix}-b`, env });
    expect(a.node.backend.status()).toEqual({ storeReachable: true, mode: "redis" });
    await introduceAcrossNodes(a, b, "127.0.0.2", "127.0.0.3");
  });

  it("introduces across nodes through a three-shard Redis Cluster, and detects an unreachable owner with SPUBLISH", async () => {
    const cluster = res.add(await startRedisCluster(), (c) => c.close());
    const prefix = uniquePrefix();
    const env = {
      GMNET_REDIS_CLUSTER_NODES: cluster.nodes.join(","),
      GMNET_KEY_PREFIX: prefix,
      GMNET_LEASE_MS: "3000",
    };
    const a = await res.master({ nodeId: `${prefix}-a`, env });
    const b = await res.master({ nodeId: `${prefix}-b`, env });
    await introduceAcrossNodes(a, b, "127.0.0.2", "127.0.0.3");

    // A node process on the cluster is SIGKILLed: its channel has no subscriber, so SPUBLISH counts 0.
    const doomed: NodeProcess = await spawnNode({
      nodeId: `${prefix}-doomed`,
      host: "127.0.0.31",
      env: { ...env, LOG_LEVEL: "warn" },
    });
    res.add(doomed, (d) => {
      if (d.child.exitCode === null) d.kill("SIGKILL");
      return d.exited;
    });
    const serverUdp = await res.udp("127.0.0.4");
    await serverUdp.send(UDP_REG, doomed.port, doomed.host);
    const serverTcp = res.add(await RawTcp.connect(doomed.port, "127.0.0.4", doomed.host), (t) =>
      t.close(),
    );
    serverTcp.send(tcpReg2("1.2.4", ["Game"]));
    await waitFor(
      async () => (await b.node.backend.registry.findServer("127.0.0.4"))?.udpPort,
      10_000,
      "registration",
    );
    doomed.kill("SIGKILL");
    await doomed.exited;
    const clientUdp = await res.udp("127.0.0.5");
    await clientUdp.send(UDP_CONNECT, b.gamePort, MASTER_HOST);
    const clientTcp = await res.tcp(b.gamePort, "127.0.0.5");
    clientTcp.send(tcpConnect("127.0.0.4"));
    expect(await clientTcp.waitForBytes(1, 10_000)).toEqual(NOT_FOUND);
    // SPUBLISH reached no subscriber; the doomed node's heartbeat is still fresh, so the
    // entry is left to its lease rather than deleted on one missed delivery.
    const outcomes = await b.node.metrics.connectOutcomes.get();
    expect(outcomes.values.find((v) => v.labels.outcome === "owner_unreachable")?.value).toBe(1);
    await waitFor(
      async () => (await b.node.backend.registry.findServer("127.0.0.4")) === null,
      8_000,
      "lease expiry",
    );
  }, 60_000);
});
