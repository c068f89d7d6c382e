/**
 * Failover in the NAT lab with GML-faithful games: three masters behind the
 * DNAT balancer, Redis, SDK game servers behind NAT A that ping every interval
 * and register again only when a ping write fails (as udphp_serverPunch does),
 * SDK clients behind NAT B that punch through.
 *  - A rolling restart: each node is replaced (the replacement starts, the old
 *    one leaves the balancer's rotation for new flows, its existing flows keep
 *    going to it, then SIGTERM); the draining node hands each game over at its
 *    own next ping; players keep being welcomed throughout.
 *  - Node loss: SIGKILL of the node holding a game's socket, and the loss of a
 *    whole host (its packets silently dropped), with the balancer resetting or
 *    keeping the dead node's TCP flows: how long until the game is listed
 *    again and a new player is welcomed, at two ping intervals.
 * Root only, with ip/iptables/conntrack/redis-server and a built dist/: skips
 * with the reason elsewhere, fails in CI.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { describeWith } from "../helpers/prerequisites.js";
import {
  type ConnectResult,
  GAME_PING_INTERVAL_MS,
  GAME_PORT,
  type LabMaster,
  LabCluster,
  labPrerequisite,
} from "./cluster.js";
import {
  ADDR,
  type FlowsOnRemoval,
  type GameSite,
  type JsonLine,
  type LabProcess,
  NetLab,
  type Release,
} from "./netlab.js";

/** A draining node resets a game's socket this long before its expected ping. */
const HANDOVER_LEAD_MS = 500;
/** The node's default drain deadline: the games' ping interval + 30 s. */
const DRAIN_DEADLINE_MS = GAME_PING_INTERVAL_MS + 30_000;
/**
 * The lab's game hosts give up on an unanswered TCP peer after tcp_retries2 = 4
 * retransmissions (6.2 s with the 200 ms minimum RTO) instead of Linux's 15
 * (924.6 s), so the silent-loss case ends within the test.
 */
const LAB_TCP_RETRIES2 = 4;
const LAB_TCP_GIVE_UP_MS = 6_200;
/** Each stream of players brings a new one this often (a game's -1s are paced 100 ms apart). */
const PLAYER_EVERY_MS = 250;

describeWith(labPrerequisite(), "NAT lab (failover with GML-faithful games)", () => {
  let lab: NetLab;
  let cluster: LabCluster;
  let nodeSeq = 0;
  const figures: string[] = [];
  const t0 = Date.now();

  const startNode = (ip: string) => cluster.startMaster(`node-${++nodeSeq}`, ip);
  // every new player gets a UDP port never used before in this run (below the
  // ephemeral range): a game welcomes an ip:port once, and the LB may still
  // hold a flow of a recent player's port
  let lastPlayerPort = 20_000;
  const newPlayerPort = () => ++lastPlayerPort;

  /** Port-restricted NATs on both sides, fresh flows, the LB rotating over the running masters. */
  async function freshNetwork(): Promise<LabMaster[]> {
    await lab.rules.setNat("A", "port-restricted");
    await lab.rules.setNat("B", "port-restricted");
    await lab.rules.forgetSiteFlows();
    const nodes = cluster.live();
    await lab.rules.setLbBackends(nodes.map((m) => m.ip));
    return nodes;
  }

  /** The agent's own clock stamp of a line (agents and tests share the host's clock). */
  const at = (l: JsonLine) => l.t as number;

  beforeAll(async () => {
    lab = await NetLab.create({ log: (m) => console.log(`[failover] ${m}`) });
    cluster = await LabCluster.start(lab, {
      GMNET_HANDOVER_LEAD_MS: String(HANDOVER_LEAD_MS),
      ...(process.env.LAB_DEBUG ? { LOG_LEVEL: "debug" } : {}),
    });
    for (const ip of ADDR.masters) await startNode(ip);
    console.log(`[failover] lab + redis + 3 masters ready after ${Date.now() - t0} ms`);
  });

  beforeEach(({ onTestFailed }) => {
    cluster?.started.splice(0);
    onTestFailed(async () => {
      cluster.dump((m) => console.log(`[failover] ${m}`));
      console.log(
        `[failover] LB flows of the games: ${JSON.stringify((await lab.rules.lbFlows().catch(() => [])).filter((f) => f.src !== ADDR.natB.pub).map((f) => f.flow.line))}`,
      );
    });
  });

  afterEach(async () => {
    await cluster?.stopStarted();
  });

  afterAll(async () => {
    if (figures.length) console.log(`[failover] figures:\n${figures.join("\n")}`);
    await lab?.close();
    console.log(`[failover] total ${Date.now() - t0} ms`);
  });

  it("rolling restart through the balancer: every node replaced in turn; games behind NATs stay reachable, every new player is welcomed, no -2, each node exits 0 within its deadline", async () => {
    const nodes = await freshNetwork();
    expect(nodes).toHaveLength(3);
    // one game per node: the LB's round-robin puts game i's UDP reg and TCP reg2 on node i
    const games: Array<{ pub: string; gs: LabProcess }> = [];
    const owners = new Set<string>();
    for (const site of ADDR.gameSites) {
      const gs = await cluster.startGameServer({}, site.lan);
      owners.add(String((await cluster.waitRegistered(site.pub)).ownerNodeId));
      games.push({ pub: site.pub, gs });
    }
    expect(owners.size).toBe(3);

    // each stream of players from a public address of its own (see topology.ts): two
    // players of one address asking for different games at the same moment may be
    // paired with each other's UDP port (GMnet's TCP connect does not carry it)
    const [home1, ...windowHomes] = ADDR.playerSites as [GameSite, ...GameSite[]];
    const players = [
      await cluster.startClient("client-70", ADDR.clientHosts[0]),
      await cluster.startClient("client-72", home1.lan),
    ];
    // one player per game for its hand-over window (one node may hand over all three at once)
    const windowPlayers = new Map<string, LabProcess>();
    for (const [i, g] of games.entries()) {
      const home = windowHomes[i] as GameSite;
      windowPlayers.set(g.pub, await cluster.startClient(`client-window-${home.lan}`, home.lan));
    }

    interface Attempt {
      startedAt: number;
      server: string;
      result: ConnectResult;
      ms: number;
      udpPort: number;
    }
    const attempts: Attempt[] = [];
    let running = true;
    // players keep arriving, each with a new client (its own UDP port), round robin over the games
    const loops = players.map(async (c, k) => {
      for (let i = k; running; i++) {
        const g = games[i % games.length] as (typeof games)[number];
        const startedAt = Date.now();
        const { result, ms, udpPort } = await cluster.connectNew(c, g.pub, newPlayerPort());
        attempts.push({ startedAt, server: g.pub, result, ms, udpPort });
        const restMs = startedAt + PLAYER_EVERY_MS - Date.now();
        if (restMs > 0 && running) await new Promise((r) => setTimeout(r, restMs)); // the pace, not a wait for state
      }
    });

    interface WindowConnect {
      server: string;
      issuedAt: number;
      reregisteredAt: number;
      result: ConnectResult;
      ms: number;
      udpPort: number;
    }
    const windowConnects: WindowConnect[] = [];
    /**
     * The moment the draining node resets a game's socket, a new player asks
     * for that game: the connect lands in the hand-over window (before the game's
     * failing ping re-registers it) and must wait for the new registration.
     */
    const connectInWindow = async (g: (typeof games)[number], from: number) => {
      const reset = await g.gs.waitFrom(
        from,
        (l) => l.ev === "master-closed",
        DRAIN_DEADLINE_MS,
        "the hand-over's reset",
      );
      const issuedAt = Date.now();
      const { result, ms, udpPort } = await cluster.connectNew(
        windowPlayers.get(g.pub) as LabProcess,
        g.pub,
        newPlayerPort(),
      );
      const resetIdx = g.gs.lines.indexOf(reset);
      const rereg = await g.gs.waitFrom(resetIdx, (l) => l.ev === "registered", 10_000, "re-reg");
      windowConnects.push({
        server: g.pub,
        issuedAt,
        reregisteredAt: at(rereg),
        result,
        ms,
        udpPort,
      });
    };

    const drains: Array<{ nodeId: string; games: number; ms: number; code: number | null }> = [];
    const drainWindows: Array<[number, number]> = [];
    for (const [k, old] of nodes.entries()) {
      const replacement = await startNode(ADDR.replacementMasters[k] as string);
      await lab.rules.addLbBackend(replacement.ip);
      const held: typeof games = [];
      for (const g of games)
        if ((await cluster.adminServer(g.pub, replacement)).json?.ownerNodeId === old.nodeId)
          held.push(g);
      const marks = held.map((g) => g.gs.mark());
      // a Kubernetes endpoint removal: no new flows to it; its existing flows keep going
      await lab.rules.removeLbBackend(old.ip, "none");
      const termAt = Date.now();
      old.proc.kill("SIGTERM");
      const windows = held.map((g, i) => connectInWindow(g, marks[i] as number));
      const exit = await Promise.race([
        old.proc.exited,
        new Promise<null>((resolve) => setTimeout(() => resolve(null), DRAIN_DEADLINE_MS + 5000)),
      ]);
      const ms = Date.now() - termAt;
      drainWindows.push([termAt, Date.now()]);
      drains.push({ nodeId: old.nodeId, games: held.length, ms, code: exit?.code ?? null });
      // the pod is gone, its endpoint deleted: kube-proxy clears the UDP flows to it
      // (else a game's next UDP reg, from the same port as before, is still sent there)
      await lab.rules.removeLbBackend(old.ip, "udp");
      await Promise.all(windows);
    }
    running = false;
    await Promise.all(loops);

    // after: every game is registered on a replacement node and welcomes a new player
    const replacements = new Set(cluster.live().map((m) => m.nodeId));
    const after: ConnectResult[] = [];
    for (const g of games) {
      const reg = await cluster.waitRegistered(g.pub);
      expect(replacements.has(String(reg.ownerNodeId))).toBe(true);
      expect(reg.udpPort).toBe(GAME_PORT);
      after.push(
        (await cluster.connectNew(players[0] as LabProcess, g.pub, newPlayerPort())).result,
      );
    }

    const during = attempts.filter((a) =>
      drainWindows.some(([from, to]) => a.startedAt >= from && a.startedAt <= to),
    );
    /**
     * A player whose game never got its -1 because the draining node reset the
     * game's socket right after the -1 was accepted: still queued behind the
     * previous -1 (GMNET_REPLY_GAP_MS) or unsent, it went down with the RST, while
     * the player had its own -1 and punched in vain. A race in src/master/
     * handover.ts (the reset does not wait for the socket's queued replies);
     * reported. Told apart by its signature so that any other loss fails here.
     */
    const resetRightAfter = (a: Attempt) => {
      const g = games.find((x) => x.pub === a.server) as (typeof games)[number];
      const told = g.gs.lines.some((l) => l.ev === "peer" && l.port === a.udpPort);
      const reset = g.gs.lines.find(
        (l) => l.ev === "master-closed" && at(l) >= a.startedAt && at(l) <= a.startedAt + 400,
      );
      return !told && reset !== undefined && a.result.outcome === "punch-timeout";
    };
    const notWelcomed = attempts.filter((a) => a.result.outcome !== "welcomed");
    const lostToReset = notWelcomed.filter(resetRightAfter);
    const otherwiseLost = notWelcomed.filter((a) => !resetRightAfter(a));
    const waited = windowConnects.filter((w) => w.issuedAt < w.reregisteredAt);
    const summary = {
      connects: attempts.length,
      duringDrains: during.length,
      notWelcomed: notWelcomed.length,
      lostToReset: lostToReset.length,
      slowestMs: Math.max(...attempts.map((a) => a.ms)),
      windowConnects: windowConnects.map((w) => {
        const g = games.find((x) => x.pub === w.server) as (typeof games)[number];
        const told = g.gs.lines.find((l) => l.ev === "peer" && l.port === w.udpPort);
        return {
          outcome: w.result.outcome,
          ms: w.ms,
          issuedBeforeReregistrationMs: w.reregisteredAt - w.issuedAt,
          gameToldAfterReregistrationMs: told ? at(told) - w.reregisteredAt : null,
        };
      }),
      drains,
    };
    console.log(`[failover] rolling restart: ${JSON.stringify(summary)}`);
    figures.push(
      `rolling restart: ${attempts.length} new players (${during.length} while a node drained), ${notWelcomed.length} not welcomed (${lostToReset.length} whose -1 went down with the hand-over's reset); ${windowConnects.length} connects in a hand-over window, ${waited.length} issued before the game re-registered (waited up to ${Math.max(0, ...waited.map((w) => w.ms))} ms); drains ${drains.map((d) => `${d.ms} ms (${d.games} game${d.games === 1 ? "" : "s"})`).join(", ")}`,
    );
    /** What the game (and, with LAB_DEBUG=1, each master at debug level) did around a lost player. */
    const explain = (what: string, server: string, udpPort: number, fromMs: number) => {
      const g = games.find((x) => x.pub === server) as (typeof games)[number];
      const around = g.gs.lines.filter(
        (l) => at(l) >= fromMs - 300 && at(l) <= fromMs + 2000 && l.ev !== "player",
      );
      console.log(
        `[failover] ${what}: ${server}, player port ${udpPort}; the game's events (ms from the connect): ${JSON.stringify(around.map((l) => [l.ev, l.port, at(l) - fromMs]))}`,
      );
      if (!process.env.LAB_DEBUG) return;
      for (const m of cluster.masters.values())
        for (const l of m.proc.lines) {
          const text = JSON.stringify(l);
          const t = typeof l.time === "number" ? l.time : 0;
          if (
            Math.abs(t - fromMs) <= 1500 &&
            (text.includes(server) || text.includes(`${udpPort}`))
          )
            console.log(`[failover]   ${m.nodeId} +${t - fromMs} ms ${text}`);
        }
    };
    for (const a of notWelcomed)
      explain(`not welcomed (${a.result.outcome})`, a.server, a.udpPort, a.startedAt);
    for (const w of windowConnects.filter((x) => x.result.outcome !== "welcomed"))
      explain(`not welcomed in a window (${w.result.outcome})`, w.server, w.udpPort, w.issuedAt);

    expect(attempts.filter((a) => a.result.outcome === "not-found")).toEqual([]);
    // no master that never answered, no punch that failed for another reason
    expect(otherwiseLost.map((a) => `${a.server}: ${JSON.stringify(a.result)}`)).toEqual([]);
    expect(during.length).toBeGreaterThan(10);
    expect(windowConnects.length).toBeGreaterThanOrEqual(3);
    expect(windowConnects.filter((w) => w.result.outcome !== "welcomed")).toEqual([]);
    expect(waited.length).toBeGreaterThanOrEqual(1);
    for (const d of drains) {
      expect(d.code).toBe(0);
      expect(d.ms).toBeLessThan(DRAIN_DEADLINE_MS);
    }
    expect(after.map((r) => r.outcome)).toEqual(["welcomed", "welcomed", "welcomed"]);
    // each game was handed over the GML's way: a failing ping, then a new registration
    for (const g of games) {
      expect(g.gs.lines.some((l) => l.ev === "ping-failed")).toBe(true);
    }
  }, 120_000);

  type Loss = "sigkill" | "host-lost";

  /** One game of a node-loss case: where it runs, its ping interval, its players. */
  interface LossGame {
    pingIntervalMs: number;
    /** Ask for the game right after the loss, and record what a player gets. */
    probeDuring: boolean;
  }

  interface LossFigures {
    pingIntervalMs: number;
    /** Since the loss: the game's socket closed (FIN, RST or TCP's give-up). */
    masterClosedMs: number | null;
    /** Since the loss: the game's failing ping, when it registers again. */
    pingFailedMs: number;
    relistedMs: number;
    reachableMs: number;
    during: { result: ConnectResult; ms: number } | null;
    lbFlowWhileLost: string | null;
  }

  /** A player who gives up punching sooner than the others (the probe right after a loss). */
  const PROBE_PUNCH_TIMEOUT_MS = 2000;

  /**
   * Each game registers (each on its own node) and welcomes a player; then the
   * node holding its socket is lost just after one of its pings (its next ping is
   * a whole interval away: the worst case), and the balancer takes that node out
   * at once, doing `flows` with its flows. Measured from each loss: the game's
   * socket closing, its failing ping, the cluster listing it on a live node, and
   * a new player welcomed. The games run at once (each has its own public address,
   * players and owner); the lost nodes are then replaced.
   */
  async function loseOwners(
    loss: Loss,
    flows: FlowsOnRemoval,
    cases: LossGame[],
  ): Promise<LossFigures[]> {
    await freshNetwork();
    const homes = [ADDR.clientHosts[0], ...ADDR.playerSites.map((s) => s.lan)];
    const setups = [];
    for (const [i, c] of cases.entries()) {
      const site = ADDR.gameSites[i] as GameSite;
      const gs = await cluster.startGameServer({ pingIntervalMs: c.pingIntervalMs }, site.lan);
      const owner = cluster.master(String((await cluster.waitRegistered(site.pub)).ownerNodeId));
      const player = await cluster.startClient(
        `player-${i}`,
        homes[i] as string,
        c.probeDuring ? { punchTimeoutMs: PROBE_PUNCH_TIMEOUT_MS } : {},
      );
      setups.push({ c, pub: site.pub, gs, owner, player });
    }
    // the LB's round robin put each game on its own node
    expect(new Set(setups.map((x) => x.owner.nodeId)).size).toBe(cases.length);
    // New flows (players, and each game registering again) go only to nodes no case
    // loses: else one case's game could register again on the node the other case
    // kills a moment later. Existing flows (the games' sockets) keep their node.
    const lostIps = new Set(setups.map((x) => x.owner.ip));
    await lab.rules.setLbBackends(
      lab.rules.lbBackends.tcp.filter((ip) => !lostIps.has(ip)),
      lab.rules.lbBackends.udp.filter((ip) => !lostIps.has(ip)),
    );
    const releases: Release[] = [];
    try {
      return await Promise.all(
        setups.map(async ({ c, pub, gs, owner, player }): Promise<LossFigures> => {
          const welcomedBefore = await cluster.connectNew(player, pub, newPlayerPort());
          expect(welcomedBefore.result.outcome).toBe("welcomed");
          await gs.next((l) => l.ev === "ping", c.pingIntervalMs + 2000, "a ping");
          const mark = gs.mark();
          const lostAt = Date.now();
          if (loss === "sigkill") {
            owner.proc.kill("SIGKILL");
            await owner.proc.exited;
          } else {
            // the host vanishes: nothing in or out of its address, and its process runs no more
            releases.push(await lab.rules.blackHole(owner.ip));
            cluster.freeze(owner);
          }
          // the balancer's health check takes it out (here at once)
          await lab.rules.removeLbBackend(owner.ip, flows);
          const during = c.probeDuring
            ? await cluster.connectNew(player, pub, newPlayerPort())
            : null;
          let lbFlowWhileLost: string | null = null;
          if (loss === "host-lost" && flows !== "all") {
            // its next ping is unanswered: does the balancer still send the flow to the lost node?
            await gs.waitFrom(
              mark,
              (l) => l.ev === "ping",
              c.pingIntervalMs + 2000,
              "the lost ping",
            );
            const flow = (await lab.rules.lbFlows("tcp")).find(
              (f) => f.src === pub && f.backend === owner.ip,
            );
            lbFlowWhileLost = flow
              ? `${flow.flow.state}, conntrack timeout ${flow.flow.timeoutS} s`
              : null;
          }
          const tcpGiveUpMs = loss === "host-lost" && flows !== "all" ? LAB_TCP_GIVE_UP_MS : 0;
          const failed = await gs.waitFrom(
            mark,
            (l) => l.ev === "ping-failed",
            2 * c.pingIntervalMs + tcpGiveUpMs + 5000,
            "the game's failing ping",
          );
          await cluster.waitRegistered(pub, owner.nodeId, 10_000);
          const relistedMs = Date.now() - lostAt;
          const after = await cluster.connectNew(player, pub, newPlayerPort());
          expect(after.result).toMatchObject({
            outcome: "welcomed",
            server: { ip: pub, port: GAME_PORT },
          });
          const reachableMs = Date.now() - lostAt;
          const closed = gs.linesFrom(mark, (l) => l.ev === "master-closed")[0];
          return {
            pingIntervalMs: c.pingIntervalMs,
            masterClosedMs: closed ? at(closed) - lostAt : null,
            pingFailedMs: at(failed) - lostAt,
            relistedMs,
            reachableMs,
            during,
            lbFlowWhileLost,
          };
        }),
      );
    } finally {
      const lost = setups.map((x) => x.owner);
      for (const m of lost) m.proc.kill("SIGKILL");
      await Promise.all(lost.map((m) => m.proc.exited));
      for (const release of releases) await release();
      // new nodes where the lost ones were, back in rotation
      await Promise.all(lost.map((m) => startNode(m.ip)));
      await lab.rules.setLbBackends(cluster.live().map((m) => m.ip));
    }
  }

  function record(name: string, f: LossFigures): void {
    const s = (ms: number | null) => (ms === null ? "-" : `${(ms / 1000).toFixed(1)} s`);
    const during = f.during
      ? `; a player right after the loss: ${f.during.result.outcome} after ${s(f.during.ms)}`
      : "";
    const flow = f.lbFlowWhileLost ? `; LB flow to the lost node: ${f.lbFlowWhileLost}` : "";
    const line = `${name}, ping every ${f.pingIntervalMs / 1000} s: socket closed at ${s(f.masterClosedMs)}, failing ping at ${s(f.pingFailedMs)}, relisted at ${s(f.relistedMs)}, new player welcomed at ${s(f.reachableMs)}${during}${flow}`;
    console.log(`[failover] ${line}`);
    figures.push(line);
  }

  /** The two ping intervals measured, at once: the 2 s game also probes a player right after the loss. */
  const INTERVALS: LossGame[] = [
    { pingIntervalMs: 2000, probeDuring: true },
    { pingIntervalMs: 4000, probeDuring: false },
  ];

  it("SIGKILL of the node holding a game's socket (games pinging every 2 s and 4 s): its kernel closes the socket at once, the game re-registers through the LB at its first ping that fails; a player meanwhile gets -2 at once; then new players are welcomed", async () => {
    for (const f of await loseOwners("sigkill", "all", INTERVALS)) {
      record("SIGKILL", f);
      // the dead node's kernel closed its socket at once
      expect(f.masterClosedMs).not.toBeNull();
      expect(f.masterClosedMs as number).toBeLessThan(1000);
      // a GML game only notices at a ping that fails: with a FIN (the node had read
      // everything) the first ping after it succeeds and draws an RST, the second
      // fails; with an RST (it died before reading the game's last ping) the first
      expect(f.pingFailedMs).toBeGreaterThan(f.pingIntervalMs - 200);
      expect(f.pingFailedMs).toBeLessThan(2 * f.pingIntervalMs + 1000);
      // meanwhile the owner has no subscriber: -2 at once, never a -1 that leads nowhere
      if (f.during) {
        expect(f.during.result.outcome).toBe("not-found");
        expect(f.during.ms).toBeLessThan(1000);
      }
    }
  }, 60_000);

  /**
   * Same crash, but the LB only takes the dead node out of rotation and keeps
   * its conntrack entries (an LB without kube-proxy's UDP cleanup). The game
   * server's UDP `reg` datagrams, sent from the same port, stay pinned to the
   * dead node's address; only the TCP re-registration reaches a live node.
   */
  it("SIGKILL owner, LB keeps the stale UDP flow (UDP reg lost): TCP re-registration reuses the stored UDP endpoint; a new client is welcomed", async () => {
    await freshNetwork();
    const gs = await cluster.startGameServer();
    const pub = ADDR.natA.pub;
    const owner = cluster.master(String((await cluster.waitRegistered(pub)).ownerNodeId));
    const mark = gs.mark();
    owner.proc.kill("SIGKILL");
    await owner.proc.exited;
    await lab.rules.removeLbBackend(owner.ip, "none");
    try {
      await gs.waitFrom(mark, (l) => l.ev === "registered", 10_000, "re-registered");
      const udpFlow = (await lab.rules.lbFlows("udp")).find((f) => f.src === pub);
      let reg2: Record<string, unknown> | string;
      try {
        reg2 = await cluster.waitRegistered(pub, owner.nodeId, 5000);
      } catch (e) {
        reg2 = String(e);
      }
      const c = await cluster.startClient("client-70", ADDR.clientHosts[0]);
      const { result, ms } = await cluster.connect(c);
      console.log(
        `[failover] stale UDP flow: server UDP reg pinned to ${udpFlow ? udpFlow.backend : "none"} (killed ${owner.nodeId} at ${owner.ip}); admin after re-reg: ${JSON.stringify(reg2)}; new client: ${JSON.stringify(result)} in ${ms} ms`,
      );
      expect(udpFlow?.backend).toBe(owner.ip);
      // observed: the master keeps the server's UDP endpoint across the TCP
      // re-registration (same public port), so the connect still works
      expect(typeof reg2).not.toBe("string");
      expect(result.outcome).toBe("welcomed");
    } finally {
      await startNode(owner.ip);
      await lab.rules.setLbBackends(cluster.live().map((m) => m.ip));
    }
  }, 60_000);

  it("host lost silently, the LB resets its flows (games pinging every 2 s and 4 s): the next ping lands on a live node, draws an RST, and the ping after re-registers", async () => {
    for (const f of await loseOwners("host-lost", "all", INTERVALS)) {
      record("host lost, LB resets its flows", f);
      // no FIN from a lost host: the socket closes on the RST to the next ping
      expect(f.masterClosedMs as number).toBeGreaterThan(f.pingIntervalMs - 500);
      expect(f.pingFailedMs).toBeGreaterThan(f.pingIntervalMs);
      expect(f.pingFailedMs).toBeLessThan(2 * f.pingIntervalMs + 1000);
      // the lost node's Redis subscription still counts as a receiver: the player got
      // a -1 for a game that was never told (reported as a bug), not a welcome
      if (f.during) expect(f.during.result.outcome).not.toBe("welcomed");
    }
  }, 60_000);

  it(`host lost silently, the LB keeps its TCP flows (games pinging every 2 s and 4 s): the pings are retransmitted into the void until TCP gives up (tcp_retries2, ${LAB_TCP_RETRIES2} on the lab's game hosts), then the game re-registers`, async () => {
    await lab.sh(lab.ns.lanA, ["sysctl", "-q", `net.ipv4.tcp_retries2=${LAB_TCP_RETRIES2}`]);
    try {
      for (const f of await loseOwners("host-lost", "udp", INTERVALS)) {
        record(`host lost, LB keeps its TCP flows (game host tcp_retries2=${LAB_TCP_RETRIES2})`, f);
        // the balancer keeps forwarding the game's retransmissions to the lost address
        expect(f.lbFlowWhileLost).not.toBeNull();
        // the socket errors only when TCP gives up: after the first unanswered ping + 6.2 s
        expect(f.masterClosedMs as number).toBeGreaterThan(LAB_TCP_GIVE_UP_MS);
        expect(f.masterClosedMs as number).toBeLessThan(
          f.pingIntervalMs + LAB_TCP_GIVE_UP_MS + 2000,
        );
        expect(f.pingFailedMs).toBeGreaterThan(f.masterClosedMs as number);
        if (f.during) expect(f.during.result.outcome).not.toBe("welcomed");
      }
    } finally {
      await lab.sh(lab.ns.lanA, ["sysctl", "-q", "net.ipv4.tcp_retries2=15"]);
    }
  }, 60_000);
});
