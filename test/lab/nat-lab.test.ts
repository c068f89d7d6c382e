/**
 * Layer B of the NAT lab: three real masters (dist/cli.js) behind a
 * round-robin DNAT load balancer, one Redis, a game server and clients using
 * the SDK (dist/sdk/index.js) behind Linux NATs of selectable kinds.
 *
 * Skips (with the reason) unless running as root with ip/iptables/conntrack/
 * redis-server and a built dist/ (`npm run build`).
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describeWith, type Prerequisite } from "../helpers/prerequisites.js";
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import {
  ADDR,
  type LabProcess,
  labAvailability,
  MASTER_PORT,
  type NatConfig,
  type NatKind,
  NetLab,
  rpc,
} from "./netlab.js";

/** The lab's masters require it: the probe reaches their admin API from another namespace. */
const ADMIN_TOKEN = "lab-admin-token";
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = `${ROOT}dist/cli.js`;
const SDK = `${ROOT}dist/sdk/index.js`;
const agent = (f: string) => fileURLToPath(new URL(`./agents/${f}`, import.meta.url));

/** Root, iproute2, iptables, conntrack, redis-server, and the built node and SDK. */
function labPrerequisite(): Prerequisite {
  const a = labAvailability(["redis-server"]);
  if (!a.ok) return { missing: a.reason ?? "the lab cannot run here" };
  for (const built of [CLI, SDK])
    if (!existsSync(built)) return { missing: `${built} is missing (run \`npm run build\` first)` };
  return { missing: null };
}

const HTTP_PORT = 9510;
const GAME_PORT = 6600; // fixed, so full-cone NAT A can map it statically
const NODE_IDS = ["node-1", "node-2", "node-3"] as const;
const M = ADDR.masters;
const PUNCH_TIMEOUT_MS = 4000;
const MASTER_TIMEOUT_MS = 4000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type ConnectResult =
  | { outcome: "welcomed"; server: { ip: string; port: number } }
  | { outcome: "not-found" }
  | { outcome: "punch-timeout"; server: { ip: string; port: number } }
  | { outcome: "master-timeout" };

describeWith(labPrerequisite(), "NAT lab (layer B: masters + SDK behind NATs)", () => {
  let lab: NetLab;
  let redis: LabProcess;
  let probe: LabProcess;
  let peerA: LabProcess; // raw-protocol agents (no SDK)
  let peerB: LabProcess;
  const masters: Array<LabProcess | undefined> = [undefined, undefined, undefined];
  const started: LabProcess[] = []; // game servers / clients of the current test
  const t0 = Date.now();

  async function http(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
    // The probe is not on the masters' loopback: the admin API wants the token.
    const r = await rpc(
      probe,
      { op: "http", url, token: ADMIN_TOKEN, timeoutMs },
      timeoutMs + 1000,
    );
    return { status: r.status as number, body: r.body as string };
  }

  const liveIdx = () => [0, 1, 2].filter((i) => masters[i]?.alive);

  async function startMaster(i: number): Promise<LabProcess> {
    const ip = M[i] as string;
    const p = lab.node(lab.ns.mst, NODE_IDS[i] as string, CLI, [], {
      cwd: ROOT,
      env: {
        GMNET_HOST: ip,
        GMNET_PORT: String(MASTER_PORT),
        GMNET_HTTP_HOST: ip,
        GMNET_HTTP_PORT: String(HTTP_PORT),
        GMNET_NODE_ID: NODE_IDS[i] as string,
        REDIS_URL: `redis://${ADDR.redis}:6379`,
        GMNET_ADMIN_TOKEN: ADMIN_TOKEN,
        LOG_LEVEL: "info",
      },
    });
    masters[i] = p;
    await p.waitFor(
      (l) => typeof l.msg === "string" && l.msg.includes("listening"),
      15_000,
      "a 'listening' log line",
    );
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await http(`http://${ip}:${HTTP_PORT}/readyz`).catch((e) => ({
        status: 0,
        body: String(e),
      }));
      if (r.status === 200) break;
      if (Date.now() > deadline)
        throw new Error(
          `${NODE_IDS[i]} /readyz never 200 (last: ${r.status} ${r.body}); last log lines:\n${p.rawOut.slice(-8).join("\n")}`,
        );
      await sleep(100);
    }
    return p;
  }

  /** sum of gmnet_connect_outcomes_total{outcome=...} over the live masters */
  async function outcomeCount(outcome: string): Promise<number> {
    let sum = 0;
    for (const i of liveIdx()) {
      const { status, body } = await http(`http://${M[i]}:${HTTP_PORT}/metrics`);
      expect(status).toBe(200);
      for (const line of body.split("\n")) {
        const m = /^gmnet_connect_outcomes_total\{([^}]*)\}\s+(\S+)/.exec(line);
        if (m && (m[1] as string).split(",").includes(`outcome="${outcome}"`)) sum += Number(m[2]);
      }
    }
    return sum;
  }

  async function adminServer(
    ip: string,
  ): Promise<{ status: number; json?: Record<string, unknown> }> {
    const i = liveIdx()[0] as number;
    const r = await http(`http://${M[i]}:${HTTP_PORT}/admin/servers/${ip}`);
    return {
      status: r.status,
      json: r.status === 200 ? (JSON.parse(r.body) as Record<string, unknown>) : undefined,
    };
  }

  /** wait until the cluster knows the server (optionally: owned by a node other than `notOwner`) */
  async function waitRegistered(
    ip: string,
    notOwner?: string,
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      const r = await adminServer(ip);
      last = r;
      if (r.status === 200 && r.json && r.json.ownerNodeId && r.json.ownerNodeId !== notOwner)
        return r.json;
      if (Date.now() > deadline)
        throw new Error(
          `server ${ip} not registered (not owned by ${notOwner}) after ${timeoutMs} ms: ${JSON.stringify(last)}`,
        );
      await sleep(100);
    }
  }

  async function startGameServer(extra: Record<string, unknown> = {}): Promise<LabProcess> {
    const opts = {
      masterHost: ADDR.vip,
      masterPort: MASTER_PORT,
      bindHost: ADDR.gameHost,
      udpPort: GAME_PORT,
      pingIntervalMs: 2000,
      reconnectDelayMs: 500,
      ...extra,
    };
    const p = lab.node(lab.ns.lanA, "gameserver", agent("gameserver.mjs"), [JSON.stringify(opts)], {
      env: { GMNET_SDK: SDK },
    });
    started.push(p);
    const s = await p.waitFor(
      (l) => l.ev === "started" || l.ev === "start-failed",
      15_000,
      "game server start",
    );
    if (s.ev !== "started") throw new Error(`game server failed: ${String(s.error)}`);
    expect(s.udpPort).toBe(GAME_PORT);
    await p.waitFor((l) => l.ev === "registered", 10_000, "registered");
    return p;
  }

  async function startClient(
    name: string,
    host: string,
    extra: Record<string, unknown> = {},
  ): Promise<LabProcess> {
    const opts = {
      masterHost: ADDR.vip,
      masterPort: MASTER_PORT,
      bindHost: host,
      udpPort: 0,
      masterTimeoutMs: MASTER_TIMEOUT_MS,
      punchTimeoutMs: PUNCH_TIMEOUT_MS,
      ...extra,
    };
    const p = lab.node(lab.ns.lanB, name, agent("client.mjs"), [JSON.stringify(opts)], {
      env: { GMNET_SDK: SDK },
    });
    started.push(p);
    await p.waitFor((l) => l.ev === "ready", 10_000, "client ready");
    return p;
  }

  async function connect(
    c: LabProcess,
    serverIp = ADDR.natA.pub,
  ): Promise<{ result: ConnectResult; ms: number }> {
    const r = await rpc(
      c,
      { op: "connect", serverIp },
      MASTER_TIMEOUT_MS + PUNCH_TIMEOUT_MS + 10_000,
    );
    return { result: r.result as ConnectResult, ms: r.ms as number };
  }

  async function players(gs: LabProcess): Promise<Array<{ ip: string; port: number }>> {
    return (await rpc(gs, { op: "players" })).players as Array<{ ip: string; port: number }>;
  }

  /** Configure both NATs, forget UDP state, and set the LB's order for the next new flows. */
  async function scenario(
    natA: NatKind | NatConfig,
    natB: NatKind | NatConfig,
    lb: { tcp: number[]; udp: number[] },
  ): Promise<void> {
    await lab.rules.setNat("A", natA);
    await lab.rules.setNat("B", natB);
    await lab.rules.forgetSiteFlows();
    await lab.rules.setLbBackends(
      lb.tcp.map((i) => M[i] as string),
      lb.udp.map((i) => M[i] as string),
    );
  }

  const nodeOf = (ip: string) => NODE_IDS[M.indexOf(ip as (typeof M)[number])];

  beforeAll(async () => {
    lab = await NetLab.create({ log: (m) => console.log(`[nat-lab] ${m}`) });
    redis = lab.spawn(lab.ns.mst, "redis", [
      "redis-server",
      "--port",
      "6379",
      "--bind",
      ADDR.redis,
      "--save",
      "",
      "--appendonly",
      "no",
      // the namespace is isolated; without this Redis 7 answers -DENIED to non-loopback clients
      "--protected-mode",
      "no",
    ]);
    probe = lab.node(lab.ns.mst, "probe", agent("peer.mjs"), ["probe"]);
    peerA = lab.node(lab.ns.lanA, "peerA", agent("peer.mjs"), ["peerA"]);
    peerB = lab.node(lab.ns.lanB, "peerB", agent("peer.mjs"), ["peerB"]);
    await Promise.all([
      peerA.waitFor((l) => l.ev === "ready", 5000, "peerA ready"),
      peerB.waitFor((l) => l.ev === "ready", 5000, "peerB ready"),
      redis.waitFor(
        (l) => typeof l.raw === "string" && l.raw.includes("Ready to accept connections"),
        10_000,
        "redis ready",
      ),
      probe.waitFor((l) => l.ev === "ready", 5000, "probe ready"),
    ]);
    await Promise.all([0, 1, 2].map((i) => startMaster(i)));
    console.log(`[nat-lab] lab + redis + 3 masters ready after ${Date.now() - t0} ms`);
  });

  beforeEach(({ onTestFailed }) => {
    started.length = 0;
    onTestFailed(async () => {
      for (const p of [...started, ...masters.filter((m): m is LabProcess => !!m)]) {
        console.log(
          `[nat-lab] --- ${p.name} (pid ${p.pid}, alive ${p.alive}) last output:\n${p.rawOut.slice(-25).join("\n")}\n${p.stderr.slice(-1500)}`,
        );
      }
      console.log(
        `[nat-lab] LB flows: ${JSON.stringify(await lab.rules.lbFlows().catch(() => []))}`,
      );
    });
  });

  afterEach(async () => {
    await Promise.all(started.map((p) => p.stop(1500)));
  });

  afterAll(async () => {
    await lab?.close();
    console.log(`[nat-lab] layer B total ${Date.now() - t0} ms`);
  });

  /** bytes received on a raw TCP connection of a peer agent since `mark`, once at least `n` arrived */
  async function tcpBytes(
    p: LabProcess,
    conn: string,
    mark: number,
    n: number,
    timeoutMs = 5000,
  ): Promise<Buffer> {
    const collect = () =>
      Buffer.concat(
        p.lines
          .slice(mark)
          .filter((l) => l.ev === "tcp-data" && l.conn === conn)
          .map((l) => Buffer.from(String(l.hex), "hex")),
      );
    await p.waitFrom(mark, () => collect().length >= n, timeoutMs, `${n} bytes on ${conn}`);
    return collect();
  }
  const minusOne = (ip: string, port: number) =>
    Buffer.concat([Buffer.from([0xff]), Buffer.from(`${ip}\0${port}\0`)]);

  it("raw GMnet PUNCH (no SDK) through the LB: server on node-1, client UDP on node-3, client TCP on node-2; both sides get -1 with public endpoints and can punch", async () => {
    await scenario("port-restricted", "port-restricted", { tcp: [0, 1, 2], udp: [0, 2, 1] });
    await rpc(peerA, { op: "udp-bind", sock: "gs", host: ADDR.gameHost, port: GAME_PORT });
    const sMark = peerA.mark();
    try {
      await rpc(peerA, {
        op: "udp-send",
        sock: "gs",
        ip: ADDR.vip,
        port: MASTER_PORT,
        data: "reg\n\u0000",
      });
      await rpc(peerA, {
        op: "tcp-open",
        conn: "gs",
        ip: ADDR.vip,
        port: MASTER_PORT,
        host: ADDR.gameHost,
      });
      await rpc(peerA, { op: "tcp-write", conn: "gs", data: "reg\n\u0000" });
      const reg = await waitRegistered(ADDR.natA.pub);
      expect(reg).toMatchObject({ ip: ADDR.natA.pub, udpPort: GAME_PORT, ownerNodeId: "node-1" });
      const found0 = await outcomeCount("found");

      const { port: cport } = await rpc(peerB, {
        op: "udp-bind",
        sock: "c",
        host: ADDR.clientHosts[0],
        port: 0,
      });
      const cMark = peerB.mark();
      await rpc(peerB, {
        op: "udp-send",
        sock: "c",
        ip: ADDR.vip,
        port: MASTER_PORT,
        data: "connect\n\u0000",
      });
      await rpc(peerB, {
        op: "tcp-open",
        conn: "c",
        ip: ADDR.vip,
        port: MASTER_PORT,
        host: ADDR.clientHosts[0],
      });
      await rpc(peerB, { op: "tcp-write", conn: "c", data: `connect\n${ADDR.natA.pub}\n\u0000` });
      const toClient = minusOne(ADDR.natA.pub, GAME_PORT);
      expect((await tcpBytes(peerB, "c", cMark, toClient.length)).toString("hex")).toBe(
        toClient.toString("hex"),
      );
      const toServer = minusOne(ADDR.natB.pub, cport as number); // MASQUERADE kept the port
      expect((await tcpBytes(peerA, "gs", sMark, toServer.length)).toString("hex")).toBe(
        toServer.toString("hex"),
      );

      const flows = await lab.rules.lbFlows();
      const landed = (proto: string, src: string) =>
        flows.filter((f) => f.proto === proto && f.src === src).map((f) => nodeOf(f.backend));
      expect(landed("udp", ADDR.natA.pub)).toEqual(["node-1"]);
      expect(landed("tcp", ADDR.natA.pub)).toEqual(["node-1"]);
      expect(landed("udp", ADDR.natB.pub)).toEqual(["node-3"]);
      expect(landed("tcp", ADDR.natB.pub)).toEqual(["node-2"]);
      expect(await outcomeCount("found")).toBe(found0 + 1);

      // the endpoints the master handed out are good enough to punch through two port-restricted NATs
      await rpc(peerA, {
        op: "udp-send",
        sock: "gs",
        ip: ADDR.natB.pub,
        port: cport,
        data: "knock-from-server",
      });
      await rpc(peerB, {
        op: "udp-send",
        sock: "c",
        ip: ADDR.natA.pub,
        port: GAME_PORT,
        data: "knock-from-client",
      });
      await rpc(peerA, {
        op: "udp-send",
        sock: "gs",
        ip: ADDR.natB.pub,
        port: cport,
        data: "knock-from-server-2",
      });
      await peerA.waitFrom(
        sMark,
        (l) => l.ev === "udp" && l.sock === "gs" && l.data === "knock-from-client",
        2000,
        "client knock at server",
      );
      await peerB.waitFrom(
        cMark,
        (l) => l.ev === "udp" && l.sock === "c" && l.data === "knock-from-server-2",
        2000,
        "server knock at client",
      );
    } finally {
      await rpc(peerB, { op: "tcp-close", conn: "c" }).catch(() => {});
      await rpc(peerB, { op: "udp-close", sock: "c" }).catch(() => {});
      await rpc(peerA, { op: "tcp-close", conn: "gs" }).catch(() => {});
      await rpc(peerA, { op: "udp-close", sock: "gs" }).catch(() => {});
      await waitGone(ADDR.natA.pub);
    }
  }, 40_000);

  /** wait until the server registration from `ip` is gone (its TCP socket closed) */
  async function waitGone(ip: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await adminServer(ip)).status !== 404) {
      if (Date.now() > deadline)
        throw new Error(`server ${ip} still registered after ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /**
   * The LB order puts the server's UDP reg and TCP reg on node-1, the client's
   * UDP connect on node-3 and its TCP connect on node-2: the connect has to
   * find the server's endpoint and socket through the cluster.
   */
  async function coneCase(natA: NatConfig, natB: NatConfig, clientPort: number): Promise<void> {
    await scenario(natA, natB, { tcp: [0, 1, 2], udp: [0, 2, 1] });
    const gs = await startGameServer();
    const reg = await waitRegistered(ADDR.natA.pub);
    expect(reg.ownerNodeId).toBe("node-1");
    expect(reg.udpPort).toBe(GAME_PORT);
    const found0 = await outcomeCount("found");

    const c = await startClient("client-70", ADDR.clientHosts[0], { udpPort: clientPort });
    const { result, ms } = await connect(c);
    console.log(`[nat-lab] ${natA.kind}/${natB.kind}: ${JSON.stringify(result)} in ${ms} ms`);
    expect(result).toEqual({ outcome: "welcomed", server: { ip: ADDR.natA.pub, port: GAME_PORT } });

    const player = await gs.waitFor(
      (l) => l.ev === "player" && l.ip === ADDR.natB.pub,
      5000,
      "player event",
    );
    expect((await players(gs)).some((p) => p.ip === ADDR.natB.pub && p.port === player.port)).toBe(
      true,
    );
    if (clientPort) expect(player.port).toBe(clientPort);

    // where did each flow land? (LB conntrack: public source -> backend)
    const flows = await lab.rules.lbFlows();
    const landed = (proto: string, src: string) =>
      flows.filter((f) => f.proto === proto && f.src === src).map((f) => nodeOf(f.backend));
    expect(landed("udp", ADDR.natA.pub)).toEqual(["node-1"]);
    expect(landed("tcp", ADDR.natA.pub)).toEqual(["node-1"]);
    expect(landed("udp", ADDR.natB.pub)).toEqual(["node-3"]);
    expect(landed("tcp", ADDR.natB.pub)).toEqual(["node-2"]);
    expect(await outcomeCount("found")).toBe(found0 + 1);
  }

  it("port-restricted cone NATs: -1, knock, -4 welcome; server on node-1, client UDP on node-3, client TCP on node-2", async () => {
    await coneCase({ kind: "port-restricted" }, { kind: "port-restricted" }, 0);
  }, 40_000);

  it("full-cone NATs: same, through static mappings", async () => {
    await coneCase(
      { kind: "full-cone", fullConePorts: [{ ip: ADDR.gameHost, port: GAME_PORT }] },
      { kind: "full-cone", fullConePorts: [{ ip: ADDR.clientHosts[0], port: 41000 }] },
      41000,
    );
  }, 40_000);

  it("symmetric client NAT: punching fails cleanly within the punch timeout; the masters count the connect as found", async () => {
    await scenario("port-restricted", "symmetric", { tcp: [0, 1, 2], udp: [0, 1, 2] });
    const gs = await startGameServer();
    await waitRegistered(ADDR.natA.pub);
    const found0 = await outcomeCount("found");
    const c = await startClient("client-70", ADDR.clientHosts[0]);
    const { result, ms } = await connect(c);
    console.log(`[nat-lab] symmetric: ${JSON.stringify(result)} in ${ms} ms`);
    expect(result).toEqual({
      outcome: "punch-timeout",
      server: { ip: ADDR.natA.pub, port: GAME_PORT },
    });
    expect(ms).toBeLessThan(PUNCH_TIMEOUT_MS + MASTER_TIMEOUT_MS + 1000);
    // the server was told about the client (mediated) but nobody got through
    await gs.waitFor(
      (l) => l.ev === "peer" && l.ip === ADDR.natB.pub,
      2000,
      "peer event on the server",
    );
    expect(gs.lines.some((l) => l.ev === "player")).toBe(false);
    expect(await players(gs)).toEqual([]);
    expect(await outcomeCount("found")).toBe(found0 + 1);
    // clean: no crash, close works
    await rpc(c, { op: "close" });
    expect(c.alive).toBe(true);
    expect(
      c.lines.some((l) => l.ev === "uncaught-exception" || l.ev === "unhandled-rejection"),
    ).toBe(false);
  }, 40_000);

  it("two clients behind the same NAT connect to one server at the same time: both welcomed", async () => {
    await scenario("port-restricted", "port-restricted", { tcp: [0, 1, 2], udp: [0, 1, 2] });
    const gs = await startGameServer();
    await waitRegistered(ADDR.natA.pub);
    const [c1, c2] = await Promise.all([
      startClient("client-70", ADDR.clientHosts[0]),
      startClient("client-71", ADDR.clientHosts[1]),
    ]);
    const [r1, r2] = await Promise.all([connect(c1 as LabProcess), connect(c2 as LabProcess)]);
    console.log(`[nat-lab] two clients: ${JSON.stringify(r1)} ${JSON.stringify(r2)}`);
    expect(r1.result.outcome).toBe("welcomed");
    expect(r2.result.outcome).toBe("welcomed");
    await gs.waitFor((l) => l.ev === "player", 3000, "first player");
    const deadline = Date.now() + 5000;
    let ps = await players(gs);
    while (ps.length < 2 && Date.now() < deadline) {
      await sleep(100);
      ps = await players(gs);
    }
    expect(ps.filter((p) => p.ip === ADDR.natB.pub)).toHaveLength(2);
    expect(new Set(ps.map((p) => p.port)).size).toBe(2);
  }, 40_000);

  /**
   * "Early knock": the server's first knock reaches the client's NAT before
   * the client's first knock leaves it. We make that order deterministic by
   * holding the client's datagrams to the server in NAT B's FORWARD chain
   * (dropped before any mapping exists) until the server has had the -1 for
   * 300 ms. Without the NAT's inbound drop, the early knock is delivered to
   * NAT B's own stack and its conntrack entry is confirmed; the client's flow
   * to the server has the same reply tuple, so MASQUERADE remaps it to another
   * public port, which the port-restricted NAT A does not let in: the punch
   * fails. With the inbound drop, the same order punches through.
   */
  async function earlyKnock(dropUnsolicited: boolean) {
    await scenario(
      "port-restricted",
      { kind: "port-restricted", dropUnsolicited },
      { tcp: [0, 1, 2], udp: [0, 1, 2] },
    );
    const gs = await startGameServer();
    await waitRegistered(ADDR.natA.pub);
    const c = await startClient("client-70", ADDR.clientHosts[0]);
    const release = await lab.rules.holdUdp("B", ADDR.clientHosts[0], {
      ip: ADDR.natA.pub,
      port: GAME_PORT,
    });
    try {
      const pending = connect(c);
      const peer = await gs.waitFor(
        (l) => l.ev === "peer" && l.ip === ADDR.natB.pub,
        MASTER_TIMEOUT_MS + 3000,
        "peer event",
      );
      await sleep(300);
      await release();
      const { result, ms } = await pending;
      const ct = await lab.rules.conntrackList(lab.ns.natB, ["-p", "udp"]);
      const toServer = ct.find((f) => f.dst === ADDR.natA.pub && f.dport === GAME_PORT);
      const inbound = ct.find(
        (f) => f.src === ADDR.natA.pub && f.sport === GAME_PORT && f.dst === ADDR.natB.pub,
      );
      console.log(
        `[nat-lab] early knock, inbound drop ${dropUnsolicited ? "on" : "off"}: ${JSON.stringify(result)} in ${ms} ms; master told the server ${String(peer.port)}; client->server leaves as ${toServer?.rdport}\n${ct.map((f) => f.line).join("\n")}`,
      );
      return { result, advertised: peer.port as number, toServer, inbound, gs };
    } finally {
      await release();
    }
  }

  it("early knock WITHOUT the client NAT's inbound drop: NAT B remaps the client's port and the punch fails", async () => {
    const r = await earlyKnock(false);
    expect(r.inbound).toBeDefined(); // the early knock left a confirmed entry
    expect(r.toServer).toBeDefined();
    expect(r.toServer?.rdport).not.toBe(r.advertised); // remapped
    expect(r.result.outcome).toBe("punch-timeout");
    expect(r.gs.lines.some((l) => l.ev === "player")).toBe(false);
  }, 40_000);

  it("early knock WITH the client NAT's inbound drop: no remap, welcomed", async () => {
    const r = await earlyKnock(true);
    expect(r.inbound).toBeUndefined();
    expect(r.toServer?.rdport).toBe(r.advertised);
    expect(r.result.outcome).toBe("welcomed");
  }, 40_000);

  /** Registers the SDK game server behind NAT A, then SIGKILLs the master node holding its socket. */
  async function startServerAndKillItsOwner() {
    await scenario("port-restricted", "port-restricted", { tcp: [0, 1, 2], udp: [0, 1, 2] });
    const gs = await startGameServer();
    const reg = await waitRegistered(ADDR.natA.pub);
    const owner = String(reg.ownerNodeId);
    const ownerIdx = NODE_IDS.indexOf(owner as (typeof NODE_IDS)[number]);
    expect(ownerIdx).toBeGreaterThanOrEqual(0);
    const mark = gs.mark();
    const killedAt = Date.now();
    masters[ownerIdx]?.kill("SIGKILL");
    await masters[ownerIdx]?.exited;
    return { gs, owner, ownerIdx, mark, killedAt };
  }

  it("SIGKILL the node holding the server's socket: the server re-registers through the LB and a new client punches through", async () => {
    const { gs, owner, ownerIdx, mark, killedAt } = await startServerAndKillItsOwner();
    // the LB notices the dead endpoint (like a cloud LB health check / kube-proxy):
    // out of rotation, its conntrack entries dropped
    await lab.rules.removeLbBackend(M[ownerIdx] as string);
    await gs.waitFrom(mark, (l) => l.ev === "master-closed", 5000, "master-closed");
    await gs.waitFrom(mark, (l) => l.ev === "registered", 10_000, "re-registered");
    const reg2 = await waitRegistered(ADDR.natA.pub, owner, 15_000);
    console.log(
      `[nat-lab] failover: ${owner} killed; re-registered on ${String(reg2.ownerNodeId)} after ${Date.now() - killedAt} ms`,
    );

    const c = await startClient("client-70", ADDR.clientHosts[0]);
    const { result } = await connect(c);
    expect(result).toEqual({
      outcome: "welcomed",
      server: { ip: ADDR.natA.pub, port: GAME_PORT },
    });
    await gs.waitFor((l) => l.ev === "player" && l.ip === ADDR.natB.pub, 5000, "player event");

    // put the node back for any later test
    await startMaster(ownerIdx);
    await lab.rules.setLbBackends([...M]);
  }, 60_000);

  /**
   * Same crash, but the LB only takes the dead node out of rotation and keeps
   * its conntrack entries (an LB without kube-proxy's UDP cleanup). The game
   * server's UDP `reg` datagrams, sent from the same port, stay pinned to the
   * dead node's address; only the TCP re-registration reaches a live node.
   */
  it("SIGKILL owner, LB keeps the stale UDP flow (UDP reg lost): TCP re-registration reuses the stored UDP endpoint; a new client is welcomed", async () => {
    const { gs, owner, ownerIdx, mark } = await startServerAndKillItsOwner();
    await lab.rules.setLbBackends(
      M.filter((_, i) => i !== ownerIdx),
      M.filter((_, i) => i !== ownerIdx),
    );
    try {
      await gs.waitFrom(mark, (l) => l.ev === "registered", 10_000, "re-registered");
      const udpFlow = (await lab.rules.lbFlows("udp")).find((f) => f.src === ADDR.natA.pub);
      let reg2: Record<string, unknown> | string;
      try {
        reg2 = await waitRegistered(ADDR.natA.pub, owner, 5000);
      } catch (e) {
        reg2 = String(e);
      }
      const c = await startClient("client-70", ADDR.clientHosts[0]);
      const { result, ms } = await connect(c);
      console.log(
        `[nat-lab] stale UDP flow: server UDP reg pinned to ${udpFlow ? nodeOf(udpFlow.backend) : "none"} (killed ${owner}); admin after re-reg: ${JSON.stringify(reg2)}; new client: ${JSON.stringify(result)} in ${ms} ms`,
      );
      expect(udpFlow?.backend).toBe(M[ownerIdx]);
      // observed: the master keeps the server's UDP endpoint across the TCP
      // re-registration (same public port), so the connect still works
      expect(typeof reg2).not.toBe("string");
      expect(result.outcome).toBe("welcomed");
    } finally {
      await startMaster(ownerIdx);
      await lab.rules.setLbBackends([...M]);
    }
  }, 60_000);
});
