// The same cross-node introduction through Redis Sentinel and through a
// three-shard Redis Cluster (sharded pub/sub, hash-tagged keys), and over TLS
// with a password.
import { afterEach, expect, it } from "vitest";
import { MASTER_HOST, RawTcp, Resources, type TestMaster, waitFor } from "../helpers/master.js";
import { type NodeProcess, spawnNode } from "../helpers/processes.js";
import {
  opensslPrerequisite,
  redisServerBinary,
  startRedisCluster,
  startSentinelSetup,
  startTlsRedis,
  uniquePrefix,
} from "../helpers/redis.js";
import { describeWith, itWith } from "../helpers/prerequisites.js";
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

describeWith(redisServerBinary, "Redis topologies", () => {
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

  itWith(
    opensslPrerequisite(),
    "introduces across nodes through Redis over TLS with a password (rediss://, private CA via NODE_EXTRA_CA_CERTS)",
    async () => {
      const tls = res.add(await startTlsRedis("s3cret-pass"), (t) => t.close());
      const prefix = uniquePrefix();
      const env = { REDIS_URL: tls.url, NODE_EXTRA_CA_CERTS: tls.caFile, GMNET_KEY_PREFIX: prefix };
      const nodes: NodeProcess[] = [];
      for (const [i, host] of ["127.0.0.41", "127.0.0.42"].entries()) {
        const child = await spawnNode({ nodeId: `${prefix}-${i}`, host, env });
        res.add(child, (c) => {
          if (c.child.exitCode === null) c.kill("SIGKILL");
          return c.exited;
        });
        nodes.push(child);
      }
      const [a, b] = nodes as [NodeProcess, NodeProcess];
      const serverUdp = await res.udp("127.0.0.2");
      await serverUdp.send(UDP_REG, a.port, a.host);
      const serverTcp = res.add(await RawTcp.connect(a.port, "127.0.0.2", a.host), (t) =>
        t.close(),
      );
      serverTcp.send(tcpReg2("1.2.4", ["Game"]));
      await waitFor(
        async () =>
          (await fetch(`http://${b.host}:${b.httpPort}/admin/servers/127.0.0.2`)).status === 200,
        10_000,
        "registration through TLS",
      );
      const clientUdp = await res.udp("127.0.0.3");
      await clientUdp.send(UDP_CONNECT, a.port, a.host);
      const clientTcp = res.add(await RawTcp.connect(b.port, "127.0.0.3", b.host), (t) =>
        t.close(),
      );
      clientTcp.send(tcpConnect("127.0.0.2"));
      const toClient = peerReply("127.0.0.2", serverUdp.port);
      const toServer = peerReply("127.0.0.3", clientUdp.port);
      expect(await clientTcp.waitForBytes(toClient.length, 10_000)).toEqual(toClient);
      expect(await serverTcp.waitForBytes(toServer.length, 10_000)).toEqual(toServer);
    },
    60_000,
  );
});
