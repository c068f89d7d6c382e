// The cross-node connect's Redis commands on three real nodes (`node
// dist/cli.js`) with raw game sockets: a server registered on node A, each
// client's UDP `connect` to node B and TCP `connect` to node C, once with the
// UDP datagram first and once with the TCP connect 30 ms ahead of it. MONITOR
// counts what arrives over the network per connect, apart from what scripts
// run inside Redis. Every -1 is checked on both sides.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect as tcpConnect, type Socket } from "node:net";
import {
  encodeConnectRequest,
  encodeReg2Request,
  encodeUdpRequest,
  MasterReplyParser,
} from "../../src/protocol/index.js";
import { BenchCluster } from "./cluster.js";
import { ipFor } from "./ips.js";
import type { Target } from "./load.js";
import { sleep, until } from "./procs.js";
import { scriptOf } from "./redis-stats.js";

export interface NodesOrderCount {
  order: "udp-first" | "tcp-first";
  connects: number;
  /** Clients and servers that got the right -1. */
  right: number;
  /** Per connect, over the network, EVALSHA by script. */
  network: Record<string, number>;
  /** Per connect, run by scripts inside Redis. */
  insideScripts: Record<string, number>;
}

export interface NodesConfirmation {
  orders: NodesOrderCount[];
  problems: string[];
}

const TAG = "rediscpu";
const UDP_REG = encodeUdpRequest("reg", true);
const UDP_CONNECT = encodeUdpRequest("connect", true);

function bindUdp(ip: string): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    socket.once("error", reject);
    socket.bind({ address: ip, port: 0 }, () => resolve(socket));
  });
}

function openTcp(target: Target, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: target.host, port: target.port, localAddress }, () =>
      resolve(socket),
    );
    socket.once("error", reject);
  });
}

function send(udp: UdpSocket, target: Target, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    udp.send(bytes, target.port, target.host, (error) => (error ? reject(error) : resolve())),
  );
}

/** The first `-1` on a socket: resolves with "ip:port", or null after `ms`. */
function firstPeer(socket: Socket, ms: number): Promise<string | null> {
  return new Promise((resolve) => {
    const parser = new MasterReplyParser();
    const timer = setTimeout(() => resolve(null), ms);
    socket.on("data", (chunk: Buffer) => {
      for (const reply of parser.push(chunk)) {
        if (reply.kind === "peer") {
          clearTimeout(timer);
          resolve(`${reply.ip}:${reply.port}`);
        }
      }
    });
  });
}

export async function confirmOnNodes(connects: number): Promise<NodesConfirmation> {
  const problems: string[] = [];
  // A long lease: no refresh or heartbeat (every lease/3) lands in the counted window.
  const cluster = await BenchCluster.start({
    mode: "redis3",
    replyGapMs: 1,
    logLevel: "warn",
    cpuProfileDir: null,
    fdLimit: 4096,
    nodeOverrides: { leaseMs: 600_000 },
  });
  const [a, b, c] = cluster.targets as [Target, Target, Target];
  const redis = cluster.redis;
  const sockets: Array<Socket | UdpSocket> = [];
  try {
    if (!redis) throw new Error("no Redis");
    const serverIp = ipFor("server", 900_000);
    const serverUdp = await bindUdp(serverIp);
    sockets.push(serverUdp);
    const serverPort = serverUdp.address().port;
    await send(serverUdp, a, UDP_REG);
    const serverTcp = await openTcp(a, serverIp);
    sockets.push(serverTcp);
    const serverParser = new MasterReplyParser();
    const serverGot = new Set<string>();
    serverTcp.on("data", (chunk: Buffer) => {
      for (const reply of serverParser.push(chunk))
        if (reply.kind === "peer") serverGot.add(`${reply.ip}:${reply.port}`);
    });
    serverTcp.write(encodeReg2Request("1.2.5", [TAG, "overtake"]));
    const first = cluster.nodes[0];
    await until(
      async () =>
        (await first?.adminServers(TAG, 0, 10))?.servers.some((s) => s.udpPort === serverPort),
      10_000,
      "the server registered with its UDP port",
    );

    const monitor = await redis.client().monitor();
    const network = new Map<string, number>();
    const inside = new Map<string, number>();
    let counting = false;
    monitor.on("monitor", (_time: string, args: string[], source: string) => {
      if (!counting) return;
      const name = (args[0] ?? "").toLowerCase();
      if (source === "lua") inside.set(name, (inside.get(name) ?? 0) + 1);
      else {
        const key = name === "evalsha" ? scriptOf(args) : name;
        network.set(key, (network.get(key) ?? 0) + 1);
      }
    });
    const orders: NodesOrderCount[] = [];
    for (const order of ["udp-first", "tcp-first"] as const) {
      network.clear();
      inside.clear();
      counting = true;
      let right = 0;
      for (let i = 0; i < connects; i++) {
        const ip = ipFor("client", 700_000 + (order === "udp-first" ? 0 : connects) + i);
        const udp = await bindUdp(ip);
        const tcp = await openTcp(c, ip);
        const clientKey = `${ip}:${udp.address().port}`;
        const reply = firstPeer(tcp, 5_000);
        if (order === "udp-first") {
          await send(udp, b, UDP_CONNECT);
          await sleep(30);
          tcp.write(encodeConnectRequest(serverIp));
        } else {
          tcp.write(encodeConnectRequest(serverIp));
          await sleep(30);
          await send(udp, b, UDP_CONNECT);
        }
        const got = await reply;
        const serverHeard = await until(() => serverGot.has(clientKey), 5_000, "server -1").then(
          () => true,
          () => false,
        );
        if (got === `${serverIp}:${serverPort}` && serverHeard) right++;
        else if (problems.length < 10)
          problems.push(`real nodes ${order} ${i}: client got ${got}, server heard ${serverHeard}`);
        tcp.destroy();
        udp.close();
      }
      await sleep(300);
      counting = false;
      const per = (map: Map<string, number>) =>
        Object.fromEntries(
          [...map].map(([name, n]) => [name, Math.round((n / connects) * 1000) / 1000]),
        );
      const count: NodesOrderCount = {
        order,
        connects,
        right,
        network: per(network),
        insideScripts: per(inside),
      };
      process.stderr.write(
        `  real nodes ${order}: ${right}/${connects} right, network per connect ` +
          `${JSON.stringify(count.network)}, inside scripts ${JSON.stringify(count.insideScripts)}\n`,
      );
      orders.push(count);
    }
    monitor.disconnect();
    return { orders, problems };
  } finally {
    for (const socket of sockets) {
      if ("destroy" in socket) socket.destroy();
      else socket.close();
    }
    await cluster.stop();
  }
}
