/**
 * Layer B of the NAT lab: three real masters (dist/cli.js) behind a
 * round-robin DNAT load balancer, one Redis, a game server and clients using
 * the SDK (dist/sdk/index.js) behind Linux NATs of selectable kinds.
 *
 * Skips (with the reason) unless running as root with ip/iptables/conntrack/
 * redis-server and a built dist/ (`npm run build`).
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { describeWith } from "../helpers/prerequisites.js";
import {
  agent,
  GAME_PORT,
  LabCluster,
  labPrerequisite,
  MASTER_TIMEOUT_MS,
  PUNCH_TIMEOUT_MS,
} from "./cluster.js";
import {
  ADDR,
  type LabProcess,
  MASTER_PORT,
  type NatConfig,
  type NatKind,
  NetLab,
  rpc,
} from "./netlab.js";

const NODE_IDS = ["node-1", "node-2", "node-3"] as const;
const M = ADDR.masters;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeWith(labPrerequisite(), "NAT lab (layer B: masters + SDK behind NATs)", () => {
  let lab: NetLab;
  let cluster: LabCluster;
  let peerA: LabProcess; // raw-protocol agents (no SDK)
  let peerB: LabProcess;
  const t0 = Date.now();

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

  const nodeOf = (ip: string) => cluster.nodeAt(ip);

  beforeAll(async () => {
    lab = await NetLab.create({ log: (m) => console.log(`[nat-lab] ${m}`) });
    cluster = await LabCluster.start(lab);
    peerA = lab.node(lab.ns.lanA, "peerA", agent("peer.mjs"), ["peerA"]);
    peerB = lab.node(lab.ns.lanB, "peerB", agent("peer.mjs"), ["peerB"]);
    await Promise.all([
      peerA.waitFor((l) => l.ev === "ready", 5000, "peerA ready"),
      peerB.waitFor((l) => l.ev === "ready", 5000, "peerB ready"),
    ]);
    await Promise.all(M.map((ip, i) => cluster.startMaster(NODE_IDS[i] as string, ip)));
    console.log(`[nat-lab] lab + redis + 3 masters ready after ${Date.now() - t0} ms`);
  });

  beforeEach(({ onTestFailed }) => {
    cluster?.started.splice(0);
    onTestFailed(async () => {
      cluster.dump((m) => console.log(`[nat-lab] ${m}`));
      console.log(
        `[nat-lab] LB flows: ${JSON.stringify(await lab.rules.lbFlows().catch(() => []))}`,
      );
    });
  });

  afterEach(async () => {
    await cluster?.stopStarted();
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
      const reg = await cluster.waitRegistered(ADDR.natA.pub);
      expect(reg).toMatchObject({ ip: ADDR.natA.pub, udpPort: GAME_PORT, ownerNodeId: "node-1" });
      const found0 = await cluster.outcomeCount("found");

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
      expect(await cluster.outcomeCount("found")).toBe(found0 + 1);

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
      await cluster.waitGone(ADDR.natA.pub);
    }
  }, 40_000);

  /**
   * The LB order puts the server's UDP reg and TCP reg on node-1, the client's
   * UDP connect on node-3 and its TCP connect on node-2: the connect has to
   * find the server's endpoint and socket through the cluster.
   */
  async function coneCase(natA: NatConfig, natB: NatConfig, clientPort: number): Promise<void> {
    await scenario(natA, natB, { tcp: [0, 1, 2], udp: [0, 2, 1] });
    const gs = await cluster.startGameServer();
    const reg = await cluster.waitRegistered(ADDR.natA.pub);
    expect(reg.ownerNodeId).toBe("node-1");
    expect(reg.udpPort).toBe(GAME_PORT);
    const found0 = await cluster.outcomeCount("found");

    const c = await cluster.startClient("client-70", ADDR.clientHosts[0], { udpPort: clientPort });
    const { result, ms } = await cluster.connect(c);
    console.log(`[nat-lab] ${natA.kind}/${natB.kind}: ${JSON.stringify(result)} in ${ms} ms`);
    expect(result).toEqual({ outcome: "welcomed", server: { ip: ADDR.natA.pub, port: GAME_PORT } });

    const player = await gs.waitFor(
      (l) => l.ev === "player" && l.ip === ADDR.natB.pub,
      5000,
      "player event",
    );
    expect(
      (await cluster.players(gs)).some((p) => p.ip === ADDR.natB.pub && p.port === player.port),
    ).toBe(true);
    if (clientPort) expect(player.port).toBe(clientPort);

    // where did each flow land? (LB conntrack: public source -> backend)
    const flows = await lab.rules.lbFlows();
    const landed = (proto: string, src: string) =>
      flows.filter((f) => f.proto === proto && f.src === src).map((f) => nodeOf(f.backend));
    expect(landed("udp", ADDR.natA.pub)).toEqual(["node-1"]);
    expect(landed("tcp", ADDR.natA.pub)).toEqual(["node-1"]);
    expect(landed("udp", ADDR.natB.pub)).toEqual(["node-3"]);
    expect(landed("tcp", ADDR.natB.pub)).toEqual(["node-2"]);
    expect(await cluster.outcomeCount("found")).toBe(found0 + 1);
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
    const gs = await cluster.startGameServer();
    await cluster.waitRegistered(ADDR.natA.pub);
    const found0 = await cluster.outcomeCount("found");
    const c = await cluster.startClient("client-70", ADDR.clientHosts[0]);
    const { result, ms } = await cluster.connect(c);
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
    expect(await cluster.players(gs)).toEqual([]);
    expect(await cluster.outcomeCount("found")).toBe(found0 + 1);
    // clean: no crash, close works
    await rpc(c, { op: "close" });
    expect(c.alive).toBe(true);
    expect(
      c.lines.some((l) => l.ev === "uncaught-exception" || l.ev === "unhandled-rejection"),
    ).toBe(false);
  }, 40_000);

  it("two clients behind the same NAT connect to one server at the same time: both welcomed", async () => {
    await scenario("port-restricted", "port-restricted", { tcp: [0, 1, 2], udp: [0, 1, 2] });
    const gs = await cluster.startGameServer();
    await cluster.waitRegistered(ADDR.natA.pub);
    const [c1, c2] = await Promise.all([
      cluster.startClient("client-70", ADDR.clientHosts[0]),
      cluster.startClient("client-71", ADDR.clientHosts[1]),
    ]);
    const [r1, r2] = await Promise.all([
      cluster.connect(c1 as LabProcess),
      cluster.connect(c2 as LabProcess),
    ]);
    console.log(`[nat-lab] two clients: ${JSON.stringify(r1)} ${JSON.stringify(r2)}`);
    expect(r1.result.outcome).toBe("welcomed");
    expect(r2.result.outcome).toBe("welcomed");
    await gs.waitFor((l) => l.ev === "player", 3000, "first player");
    const deadline = Date.now() + 5000;
    let ps = await cluster.players(gs);
    while (ps.length < 2 && Date.now() < deadline) {
      await sleep(100);
      ps = await cluster.players(gs);
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
    const gs = await cluster.startGameServer();
    await cluster.waitRegistered(ADDR.natA.pub);
    const c = await cluster.startClient("client-70", ADDR.clientHosts[0]);
    const release = await lab.rules.holdUdp("B", ADDR.clientHosts[0], {
      ip: ADDR.natA.pub,
      port: GAME_PORT,
    });
    try {
      const pending = cluster.connect(c);
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
});
