/**
 * Layer B's cast inside a NetLab: Redis and masters (`dist/cli.js`) in the
 * masters' namespace, an HTTP probe beside them, SDK game servers behind NAT A
 * and SDK clients behind NAT B (agents/), and the questions the tests ask the
 * cluster (who owns a server, connect outcomes summed over the live nodes).
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { waitFor } from "../helpers/wait.js";
import type { Prerequisite } from "../helpers/prerequisites.js";
import { ADDR, type LabProcess, labAvailability, MASTER_PORT, type NetLab, rpc } from "./netlab.js";

/** The lab's masters require it: the probe reaches their admin API from another namespace. */
const ADMIN_TOKEN = "lab-admin-token";
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = `${ROOT}dist/cli.js`;
const SDK = `${ROOT}dist/sdk/index.js`;
export const agent = (f: string) => fileURLToPath(new URL(`./agents/${f}`, import.meta.url));

export const HTTP_PORT = 9510;
export const GAME_PORT = 6600; // fixed, so full-cone NAT A can map it statically
export const PUNCH_TIMEOUT_MS = 4000;
export const MASTER_TIMEOUT_MS = 4000;
/**
 * The games' keepalive: GML pings every 3 minutes (udphp_rctintv); the lab's
 * games every 2 s, so a failover shows within seconds. The masters are told the
 * same cadence (GMNET_SERVER_PING_INTERVAL_MS), as an operator would.
 */
export const GAME_PING_INTERVAL_MS = 2000;

/** Root, iproute2, iptables, conntrack, redis-server, and the built node and SDK. */
export function labPrerequisite(): Prerequisite {
  const a = labAvailability(["redis-server"]);
  if (!a.ok) return { missing: a.reason ?? "the lab cannot run here" };
  for (const built of [CLI, SDK])
    if (!existsSync(built)) return { missing: `${built} is missing (run \`npm run build\` first)` };
  return { missing: null };
}

export type ConnectResult =
  | { outcome: "welcomed"; server: { ip: string; port: number } }
  | { outcome: "not-found" }
  | { outcome: "punch-timeout"; server: { ip: string; port: number } }
  | { outcome: "master-timeout" };

export interface LabMaster {
  nodeId: string;
  ip: string;
  proc: LabProcess;
}

export class LabCluster {
  /** Every master started, by node id (dead ones stay, with `proc.alive` false). */
  readonly masters = new Map<string, LabMaster>();
  /** Game servers and clients of the current test (stopped by `stopStarted`). */
  readonly started: LabProcess[] = [];

  private constructor(
    readonly lab: NetLab,
    private readonly redis: LabProcess,
    private readonly probe: LabProcess,
    private readonly masterEnv: Record<string, string>,
  ) {}

  /** Redis and the probe in the masters' namespace (masters: `startMaster`). */
  static async start(lab: NetLab, masterEnv: Record<string, string> = {}): Promise<LabCluster> {
    const redis = lab.spawn(lab.ns.mst, "redis", [
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
    const probe = lab.node(lab.ns.mst, "probe", agent("peer.mjs"), ["probe"]);
    await Promise.all([
      redis.waitFor(
        (l) => typeof l.raw === "string" && l.raw.includes("Ready to accept connections"),
        10_000,
        "redis ready",
      ),
      probe.waitFor((l) => l.ev === "ready", 5000, "probe ready"),
    ]);
    return new LabCluster(lab, redis, probe, masterEnv);
  }

  async http(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
    // The probe is not on the masters' loopback: the admin API wants the token.
    const r = await rpc(
      this.probe,
      { op: "http", url, token: ADMIN_TOKEN, timeoutMs },
      timeoutMs + 1000,
    );
    return { status: r.status as number, body: r.body as string };
  }

  private readonly frozen = new Set<string>();

  /** Masters that run and answer (not killed, not frozen). */
  live(): LabMaster[] {
    return [...this.masters.values()].filter((m) => m.proc.alive && !this.frozen.has(m.nodeId));
  }

  /** SIGSTOP: the node runs no more, though its kernel keeps its sockets (a lost host, with `blackHole`). */
  freeze(m: LabMaster): void {
    this.frozen.add(m.nodeId);
    m.proc.kill("SIGSTOP");
  }

  master(nodeId: string): LabMaster {
    const m = this.masters.get(nodeId);
    if (!m) throw new Error(`no master ${nodeId}`);
    return m;
  }

  /** The node id of the running master at `ip`. */
  nodeAt(ip: string): string | undefined {
    return this.live().find((m) => m.ip === ip)?.nodeId;
  }

  /** Starts `node dist/cli.js` at `ip`; resolves once it logs "listening" and /readyz is 200. */
  async startMaster(nodeId: string, ip: string, env: Record<string, string> = {}) {
    const proc = this.lab.node(this.lab.ns.mst, nodeId, CLI, [], {
      cwd: ROOT,
      env: {
        GMNET_HOST: ip,
        GMNET_PORT: String(MASTER_PORT),
        GMNET_HTTP_HOST: ip,
        GMNET_HTTP_PORT: String(HTTP_PORT),
        GMNET_NODE_ID: nodeId,
        REDIS_URL: `redis://${ADDR.redis}:6379`,
        GMNET_ADMIN_TOKEN: ADMIN_TOKEN,
        GMNET_SERVER_PING_INTERVAL_MS: String(GAME_PING_INTERVAL_MS),
        LOG_LEVEL: "info",
        ...this.masterEnv,
        ...env,
      },
    });
    const m = { nodeId, ip, proc };
    this.masters.set(nodeId, m);
    await proc.waitFor(
      (l) => typeof l.msg === "string" && l.msg.includes("listening"),
      15_000,
      "a 'listening' log line",
    );
    let last = "";
    await waitFor(
      async () => {
        const r = await this.http(`http://${ip}:${HTTP_PORT}/readyz`).catch((e) => ({
          status: 0,
          body: String(e),
        }));
        last = `${r.status} ${r.body}`;
        return r.status === 200;
      },
      15_000,
      `${nodeId} /readyz 200`,
      100,
    ).catch((e) => {
      throw new Error(
        `${String(e)} (last: ${last}); last log lines:\n${proc.rawOut.slice(-8).join("\n")}`,
      );
    });
    return m;
  }

  /** sum of gmnet_connect_outcomes_total{outcome=...} over the running masters */
  async outcomeCount(outcome: string): Promise<number> {
    let sum = 0;
    for (const m of this.live()) {
      const { status, body } = await this.http(`http://${m.ip}:${HTTP_PORT}/metrics`);
      if (status !== 200) throw new Error(`${m.nodeId} /metrics answered ${status}`);
      for (const line of body.split("\n")) {
        const r = /^gmnet_connect_outcomes_total\{([^}]*)\}\s+(\S+)/.exec(line);
        if (r && (r[1] as string).split(",").includes(`outcome="${outcome}"`)) sum += Number(r[2]);
      }
    }
    return sum;
  }

  /** `/admin/servers/:ip` on a running master (the first, or the one given). */
  async adminServer(
    ip: string,
    via: LabMaster | undefined = this.live()[0],
  ): Promise<{ status: number; json?: Record<string, unknown> }> {
    if (!via) throw new Error("no master is running");
    const r = await this.http(`http://${via.ip}:${HTTP_PORT}/admin/servers/${ip}`);
    return {
      status: r.status,
      json: r.status === 200 ? (JSON.parse(r.body) as Record<string, unknown>) : undefined,
    };
  }

  /** wait until the cluster knows the server (optionally: owned by a node other than `notOwner`) */
  async waitRegistered(
    ip: string,
    notOwner?: string,
    timeoutMs = 10_000,
    via?: LabMaster,
  ): Promise<Record<string, unknown>> {
    let last: unknown;
    return waitFor(
      async () => {
        const r = await this.adminServer(ip, via);
        last = r;
        return r.status === 200 && r.json?.ownerNodeId && r.json.ownerNodeId !== notOwner
          ? r.json
          : null;
      },
      timeoutMs,
      `server ${ip} registered (not owned by ${notOwner})`,
      100,
    ).catch((e) => {
      throw new Error(`${String(e)}: ${JSON.stringify(last)}`);
    });
  }

  /** wait until the server registration from `ip` is gone (its TCP socket closed) */
  async waitGone(ip: string, timeoutMs = 5000): Promise<void> {
    await waitFor(
      async () => (await this.adminServer(ip)).status === 404,
      timeoutMs,
      `server ${ip} unregistered`,
      100,
    );
  }

  /**
   * An SDK game server on `host` behind NAT A, GML-faithful: the SDK's default
   * keepalive (re-register only when a ping write fails), pinging every
   * GAME_PING_INTERVAL_MS unless `extra` says otherwise.
   */
  async startGameServer(
    extra: Record<string, unknown> = {},
    host: string = ADDR.gameHost,
  ): Promise<LabProcess> {
    const opts = {
      masterHost: ADDR.vip,
      masterPort: MASTER_PORT,
      bindHost: host,
      udpPort: GAME_PORT,
      pingIntervalMs: GAME_PING_INTERVAL_MS,
      ...extra,
    };
    const p = this.lab.node(
      this.lab.ns.lanA,
      `gameserver-${host}`,
      agent("gameserver.mjs"),
      [JSON.stringify(opts)],
      { env: { GMNET_SDK: SDK } },
    );
    this.started.push(p);
    const s = await p.waitFor(
      (l) => l.ev === "started" || l.ev === "start-failed",
      15_000,
      "game server start",
    );
    if (s.ev !== "started") throw new Error(`game server failed: ${String(s.error)}`);
    if (s.udpPort !== GAME_PORT) throw new Error(`game server bound ${String(s.udpPort)}`);
    if (s.reregister !== "on-ping-failure")
      throw new Error(`game server is not GML-faithful: reregister ${String(s.reregister)}`);
    await p.waitFor((l) => l.ev === "registered", 10_000, "registered");
    return p;
  }

  async startClient(
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
    const p = this.lab.node(this.lab.ns.lanB, name, agent("client.mjs"), [JSON.stringify(opts)], {
      env: { GMNET_SDK: SDK },
    });
    this.started.push(p);
    await p.waitFor((l) => l.ev === "ready", 10_000, "client ready");
    return p;
  }

  /** This client agent's one GameClient connects (its UDP port is reused across calls). */
  async connect(
    c: LabProcess,
    serverIp: string = ADDR.natA.pub,
  ): Promise<{ result: ConnectResult; ms: number }> {
    const r = await rpc(
      c,
      { op: "connect", serverIp },
      MASTER_TIMEOUT_MS + PUNCH_TIMEOUT_MS + 10_000,
    );
    return { result: r.result as ConnectResult, ms: r.ms as number };
  }

  /**
   * A new player (a new GameClient) connects from the agent's host, from
   * `udpPort` (default: any free port; a stream of players should give each
   * its own, since a game welcomes an ip:port once).
   */
  async connectNew(
    c: LabProcess,
    serverIp: string,
    udpPort = 0,
    timeoutMs = 30_000,
  ): Promise<{ result: ConnectResult; ms: number; udpPort: number }> {
    const r = await rpc(c, { op: "connect-new", serverIp, udpPort }, timeoutMs);
    return { result: r.result as ConnectResult, ms: r.ms as number, udpPort: r.udpPort as number };
  }

  async players(gs: LabProcess): Promise<Array<{ ip: string; port: number }>> {
    return (await rpc(gs, { op: "players" })).players as Array<{ ip: string; port: number }>;
  }

  async stopStarted(): Promise<void> {
    await Promise.all(this.started.splice(0).map((p) => p.stop(1500)));
  }

  /** What each process of the current test (and each master) printed last: for a failed test. */
  dump(log: (msg: string) => void): void {
    for (const p of [...this.started, ...[...this.masters.values()].map((m) => m.proc)]) {
      log(
        `--- ${p.name} (pid ${p.pid}, alive ${p.alive}) last output:\n${p.rawOut.slice(-25).join("\n")}\n${p.stderr.slice(-1500)}`,
      );
    }
  }

  get redisProcess(): LabProcess {
    return this.redis;
  }
}
