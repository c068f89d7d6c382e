// A rolling restart loses no game: three nodes on one Redis, 100 game servers
// that behave like the GML (they ping every interval and register again only
// when a ping write fails), clients connecting all the while through a
// balancer stand-in that sends new flows to ready nodes only; every node is
// SIGTERMed and replaced in turn. A draining node hands each server over at
// its own next ping, and connects in between wait for the new registration.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect as tcpConnect } from "node:net";
import { afterEach, beforeEach, expect, it } from "vitest";
import {
  encodeConnectRequest,
  encodeUdpRequest,
  MasterReplyParser,
} from "../../src/protocol/index.js";
import { GameServer } from "../../src/sdk/index.js";
import type { Endpoint } from "../../src/sdk/wire.js";
import { Resources, waitFor } from "../helpers/master.js";
import { type NodeProcess, spawnNode } from "../helpers/processes.js";
import { OwnedRedisServer, redisServerBinary, uniquePrefix } from "../helpers/redis.js";
import { describeWith } from "../helpers/prerequisites.js";

/** The games' keepalive, shortened from GML's 3 minutes. */
const PING_INTERVAL_MS = 3_000;
const SERVERS = 100;
const NODE_HOSTS = ["127.0.0.51", "127.0.0.52", "127.0.0.53"];
/** What a node may take to drain: its configured deadline (ping interval + 30 s). */
const DRAIN_DEADLINE_MS = PING_INTERVAL_MS + 30_000;

const res = new Resources();
let redis: OwnedRedisServer;

beforeEach(async () => {
  redis = await OwnedRedisServer.start();
});
afterEach(async () => {
  await res.closeAll();
  await redis.stop();
});

/** Sends each new flow to a ready node, round robin: readiness polled as a balancer's health check. */
class Balancer {
  readonly nodes: NodeProcess[] = [];
  private readonly ready = new Set<NodeProcess>();
  private next = 0;
  private timer: NodeJS.Timeout | null = null;

  start(): void {
    const check = async () => {
      for (const node of [...this.nodes]) {
        const ok = await fetch(`http://${node.host}:${node.httpPort}/readyz`)
          .then((r) => r.status === 200)
          .catch(() => false);
        if (ok) this.ready.add(node);
        else this.ready.delete(node);
      }
      this.timer = setTimeout(() => void check(), 100);
    };
    void check();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  add(node: NodeProcess): void {
    this.nodes.push(node);
    this.ready.add(node); // spawnNode waited for /readyz 200
  }

  /** Out of rotation at once: the balancer's next check would see its 503 anyway. */
  remove(node: NodeProcess): void {
    this.ready.delete(node);
    this.nodes.splice(this.nodes.indexOf(node), 1);
  }

  pick(): Endpoint {
    const ready = this.nodes.filter((node) => this.ready.has(node));
    const node = ready[this.next++ % ready.length] as NodeProcess;
    return { ip: node.host, port: node.port };
  }
}

interface ConnectStats {
  found: number;
  notFound: number;
  wrong: string[];
  unanswered: number;
}

/** One client connect, as the GML client makes it; checks both -1s. */
async function connectOnce(
  balancer: Balancer,
  clientIp: string,
  server: GameServer,
  serverIp: string,
  peersSeen: Map<string, string>,
  stats: ConnectStats,
): Promise<void> {
  const udp: UdpSocket = createSocket("udp4");
  await new Promise<void>((resolve) => udp.bind(0, clientIp, resolve));
  const clientPort = udp.address().port;
  try {
    const udpTarget = balancer.pick();
    udp.send(encodeUdpRequest("connect", true), udpTarget.port, udpTarget.ip);
    const tcpTarget = balancer.pick();
    const reply = await new Promise<string>((resolve) => {
      const tcp = tcpConnect({ host: tcpTarget.ip, port: tcpTarget.port, localAddress: clientIp });
      const parser = new MasterReplyParser();
      // The GML client never times out; 20 s here only ends a broken test.
      const timer = setTimeout(() => finish("unanswered"), 20_000);
      const finish = (result: string) => {
        clearTimeout(timer);
        tcp.destroy();
        resolve(result);
      };
      tcp.on("connect", () => tcp.write(encodeConnectRequest(serverIp)));
      tcp.on("data", (chunk: Buffer) => {
        for (const r of parser.push(chunk)) {
          if (r.kind === "peer") finish(`${r.ip}:${r.port}`);
          else if (r.kind === "not-found") finish("-2");
        }
      });
      tcp.on("error", () => finish("unanswered"));
    });
    if (reply === "-2") stats.notFound++;
    else if (reply === "unanswered") stats.unanswered++;
    else if (reply !== `${serverIp}:${server.udpPort}`) stats.wrong.push(`client got ${reply}`);
    else {
      const key = `${clientIp}:${clientPort}`;
      const told = await waitFor(
        () => peersSeen.get(key),
        10_000,
        `the server's -1 for ${key}`,
      ).catch(() => null);
      if (told !== serverIp) stats.wrong.push(`server ${serverIp} was not told ${key}`);
      else stats.found++;
    }
  } finally {
    udp.close();
  }
}

describeWith(redisServerBinary, "rolling restart", () => {
  it("restarts every node in turn with GML-faithful servers and continuous connects: no -2, nothing wrong, every server registered, every node out within its deadline", {
    timeout: 180_000,
  }, async () => {
    const prefix = uniquePrefix();
    let generation = 0;
    const env = {
      REDIS_URL: redis.url,
      GMNET_KEY_PREFIX: prefix,
      GMNET_SERVER_PING_INTERVAL_MS: String(PING_INTERVAL_MS),
      GMNET_HANDOVER_LEAD_MS: "500",
      GMNET_REPLY_GAP_MS: "20",
      GMNET_LEASE_MS: "3000",
      LOG_LEVEL: "warn",
    };
    const startNode = async (host: string) => {
      const node = await spawnNode({ nodeId: `${prefix}-${host}-${generation++}`, host, env });
      return res.add(node, (n) => {
        if (n.child.exitCode === null) n.kill("SIGKILL");
        return n.exited;
      });
    };
    const balancer = new Balancer();
    for (const host of NODE_HOSTS) balancer.add(await startNode(host));
    balancer.start();
    res.add(balancer, (b) => b.stop());

    const peersSeen = new Map<string, string>();
    const servers: Array<{ ip: string; server: GameServer }> = [];
    for (let i = 0; i < SERVERS; i++) {
      const ip = `127.0.60.${i + 1}`;
      const server = new GameServer({
        masterHost: "0.0.0.0", // unused: the balancer stand-in picks the node
        masterPort: 0,
        route: () => balancer.pick(),
        bindHost: ip,
        pingIntervalMs: PING_INTERVAL_MS,
        lobby: { version: "1.2.4", data: ["RollingGame", String(i), "", "", "", "", "", ""] },
      });
      server.on("peer", (peer: Endpoint) => peersSeen.set(`${peer.ip}:${peer.port}`, ip));
      res.add(server, (s) => s.close());
      await server.start();
      servers.push({ ip, server });
    }
    const probe = res.add(redis.client(), (c) => c.disconnect());
    const registered = () => probe.zcard(`{${prefix}}:servers`);
    await waitFor(async () => (await registered()) === SERVERS, 15_000, "every server registered");

    const stats: ConnectStats = { found: 0, notFound: 0, wrong: [], unanswered: 0 };
    let running = true;
    let clientIndex = 0;
    const clientLoop = async () => {
      while (running) {
        const n = clientIndex++;
        const target = servers[n % SERVERS] as (typeof servers)[number];
        const clientIp = `127.0.${70 + ((n >> 8) % 50)}.${(n % 250) + 1}`;
        await connectOnce(balancer, clientIp, target.server, target.ip, peersSeen, stats);
      }
    };
    const clients = Array.from({ length: 4 }, () => clientLoop());

    const drainMs: number[] = [];
    for (const host of NODE_HOSTS) {
      const old = balancer.nodes.find((node) => node.host === host) as NodeProcess;
      const replacement = await startNode(host);
      balancer.add(replacement);
      const startedAt = Date.now();
      balancer.remove(old);
      old.kill("SIGTERM");
      expect(await old.exited).toBe(0);
      drainMs.push(Date.now() - startedAt);
    }
    // Let the last hand-overs' connects finish, then stop the clients.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    running = false;
    await Promise.all(clients);

    console.log("[rolling-restart] stats", JSON.stringify(stats));
    expect(stats.wrong).toEqual([]);
    expect(stats.notFound).toBe(0);
    expect(stats.unanswered).toBe(0);
    expect(stats.found).toBeGreaterThan(50);
    for (const ms of drainMs) expect(ms).toBeLessThan(DRAIN_DEADLINE_MS);
    // Every server is registered, each on a node that is still running.
    await waitFor(async () => (await registered()) === SERVERS, 10_000, "every server registered");
    const live = new Set(balancer.nodes.map((node) => node.nodeId));
    const owners = await Promise.all(
      servers.map(({ ip }) => probe.hget(`{${prefix}}:server:${ip}`, "n")),
    );
    expect(owners.filter((owner) => owner === null || !live.has(owner))).toEqual([]);
    console.log(
      `[rolling-restart] ${stats.found} connects found, 0 lost; drains took ${drainMs.join(", ")} ms (deadline ${DRAIN_DEADLINE_MS} ms)`,
    );
  });
});
