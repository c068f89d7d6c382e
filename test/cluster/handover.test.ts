// The hand-over's edges, found in the NAT lab and pinned down here on
// loopback: a -1 still paced on a socket when the drain resets it, a node that
// stopped without closing anything, and a drain that ends once its games are
// back rather than after every wait.
import { afterEach, beforeEach, expect, it } from "vitest";
import {
  encodeConnectRequest,
  encodeReg2Request,
  encodeUdpRequest,
} from "../../src/protocol/index.js";
import {
  metricValue,
  peerFoundBytes,
  RawTcp,
  RawUdp,
  Resources,
  waitFor,
} from "../helpers/master.js";
import { describeWith } from "../helpers/prerequisites.js";
import { type NodeProcess, spawnNode } from "../helpers/processes.js";
import { OwnedRedisServer, redisServerBinary, uniquePrefix } from "../helpers/redis.js";

const res = new Resources();
let redis: OwnedRedisServer;
beforeEach(async () => {
  redis = await OwnedRedisServer.start();
});
afterEach(async () => {
  await res.closeAll();
  await redis.stop();
});

async function node(id: string, host: string, env: Record<string, string>): Promise<NodeProcess> {
  const started = await spawnNode({ nodeId: id, host, env });
  return res.add(started, (n) => {
    if (n.child.exitCode === null) n.kill("SIGKILL");
    return n.exited;
  });
}

/** A GML-style registration from `ip` through `via`: UDP reg, then TCP reg2. */
async function registerGame(ip: string, via: NodeProcess, udp?: RawUdp) {
  const gameUdp = udp ?? res.add(await RawUdp.bind(ip), (u) => u.close());
  await gameUdp.send(encodeUdpRequest("reg", true), via.port, via.host);
  const tcp = res.add(await RawTcp.connect(via.port, ip, via.host), (t) => t.close());
  tcp.send(encodeReg2Request("1.2.4", ["G", "", "", "", "", "", "", ""]));
  return { udp: gameUdp, tcp };
}

async function connect(clientIp: string, serverIp: string, via: NodeProcess) {
  const udp = res.add(await RawUdp.bind(clientIp), (u) => u.close());
  await udp.send(encodeUdpRequest("connect", true), via.port, via.host);
  const tcp = res.add(await RawTcp.connect(via.port, clientIp, via.host), (t) => t.close());
  tcp.send(encodeConnectRequest(serverIp));
  return { udp, tcp };
}

describeWith(redisServerBinary, "hand-over edges", () => {
  it("a -1 still paced on the socket when the drain resets it goes out first", async () => {
    const env = {
      REDIS_URL: redis.url,
      GMNET_KEY_PREFIX: uniquePrefix(),
      GMNET_SERVER_PING_INTERVAL_MS: "3000",
      GMNET_HANDOVER_LEAD_MS: "2500", // reset half a second after the registration
      GMNET_REPLY_GAP_MS: "1500", // a second -1 waits behind the first
      LOG_LEVEL: "warn",
    };
    const a = await node("a", "127.0.0.61", env);
    await node("b", "127.0.0.62", env);
    const game = await registerGame("127.0.80.1", a);
    await waitFor(
      async () =>
        metricValue(
          await (await fetch(`http://${a.host}:${a.httpPort}/metrics`)).text(),
          "gmnet_registered_servers",
          '{scope="node"}',
        ) === 1,
      5_000,
      "the registration",
    );
    const first = await connect("127.0.81.1", "127.0.80.1", a);
    const second = await connect("127.0.81.2", "127.0.80.1", a);
    for (const client of [first, second])
      await client.tcp.waitForBytes(peerFoundBytes("127.0.80.1", game.udp.port).length);
    a.kill("SIGTERM");
    await game.tcp.waitForClose(10_000); // the hand-over's reset
    const expected = Buffer.concat([
      peerFoundBytes("127.0.81.1", first.udp.port),
      peerFoundBytes("127.0.81.2", second.udp.port),
    ]);
    expect(game.tcp.received).toEqual(expected);
  });

  it("a node that stopped (no FIN, no RST) is not routed -1s once its heartbeat is two refreshes old", async () => {
    const env = {
      REDIS_URL: redis.url,
      GMNET_KEY_PREFIX: uniquePrefix(),
      GMNET_LEASE_MS: "3000", // refresh every second: stale after two
      LOG_LEVEL: "warn",
    };
    const a = await node("a", "127.0.0.63", env);
    const b = await node("b", "127.0.0.64", env);
    const game = await registerGame("127.0.82.1", a);
    await waitFor(
      async () =>
        (await fetch(`http://${b.host}:${b.httpPort}/admin/servers/127.0.82.1`)).status === 200,
      5_000,
      "the registration, seen from b",
    );
    a.kill("SIGSTOP"); // the host is gone: node a runs no more, its sockets stay open
    try {
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const client = await connect("127.0.83.1", "127.0.82.1", b);
      expect(await client.tcp.waitForBytes(1)).toEqual(Buffer.from([0xfe]));
      const metrics = await (await fetch(`http://${b.host}:${b.httpPort}/metrics`)).text();
      expect(
        metricValue(metrics, "gmnet_connect_outcomes_total", '{outcome="owner_unreachable"}'),
      ).toBe(1);
      expect(game.tcp.received).toHaveLength(0);
    } finally {
      a.kill("SIGCONT");
    }
  });

  it("a drain ends when its games are back, without waiting out every hand-over", async () => {
    // A hand-over wait far longer than the test (lead 60 s + 5 s); the short deadline
    // resets the game at once. Only an early end lets the node exit in time.
    const env = {
      REDIS_URL: redis.url,
      GMNET_KEY_PREFIX: uniquePrefix(),
      GMNET_SERVER_PING_INTERVAL_MS: "120000",
      GMNET_HANDOVER_LEAD_MS: "60000",
      GMNET_DRAIN_TIMEOUT_MS: "1000",
      LOG_LEVEL: "warn",
    };
    const a = await node("a", "127.0.0.65", env);
    const b = await node("b", "127.0.0.66", env);
    const game = await registerGame("127.0.84.1", a);
    await waitFor(
      async () =>
        (await fetch(`http://${b.host}:${b.httpPort}/admin/servers/127.0.84.1`)).status === 200,
      5_000,
      "the registration",
    );
    a.kill("SIGTERM");
    await game.tcp.waitForClose(10_000);
    // The game's failing ping: it registers again through b at once.
    await registerGame("127.0.84.1", b, game.udp);
    expect(await a.exited).toBe(0); // well inside the test's 20 s, not after 65 s
  });
});
