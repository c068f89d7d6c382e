/**
 * NAT lab harness: Linux network namespaces, veths, iptables NAT and a
 * round-robin DNAT "load balancer", plus helpers to run long-lived processes
 * inside a namespace and read their JSON-line stdout.
 *
 * Topology (all addresses are TEST-NET; nothing leaves the namespaces we make):
 *
 *                          "internet"  203.0.113.0/24  (ns <p>-inet, bridge br0, 203.0.113.1)
 *              +-----------------------+---------------------------+
 *              |                       |                           |
 *   ns <p>-lb  eth0 203.0.113.10 (VIP) ns <p>-natA eth0 .20        ns <p>-natB eth0 .30
 *              eth1 198.51.100.1                  eth1 192.0.2.1/26           eth1 192.0.2.65/26
 *              |  DNAT nth round-robin            |                           |
 *   ns <p>-mst eth0 198.51.100.2 (redis)    ns <p>-lanA eth0 192.0.2.10  ns <p>-lanB eth0 192.0.2.70,.71
 *                   198.51.100.11/.12/.13 (masters), default route via the LB (no SNAT)
 *
 * Interfaces are created directly inside the target namespaces
 * (`ip -n A link add x type veth peer name y netns B`), so no interface name
 * ever exists in the root namespace and parallel runs cannot collide.
 * Namespace names are `gml<pid>-<role>`; `sweepStaleLabs()` removes the
 * namespaces (and the processes inside them) of runs whose pid is gone.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export const ADDR = {
  inetRouter: "203.0.113.1",
  vip: "203.0.113.10",
  lbBackendSide: "198.51.100.1",
  redis: "198.51.100.2",
  masters: ["198.51.100.11", "198.51.100.12", "198.51.100.13"] as const,
  natA: { pub: "203.0.113.20", lan: "192.0.2.1" },
  natB: { pub: "203.0.113.30", lan: "192.0.2.65" },
  gameHost: "192.0.2.10",
  clientHosts: ["192.0.2.70", "192.0.2.71"] as const,
} as const;

export const MASTER_PORT = 6510;

export type NatKind = "port-restricted" | "full-cone" | "symmetric";

export interface NatConfig {
  kind: NatKind;
  /**
   * Drop unsolicited inbound UDP addressed to the NAT itself (filter INPUT,
   * ctstate NEW). Default true. Without it, an inbound packet that arrives
   * before the LAN host has sent to that peer is delivered to the NAT's own
   * stack (ICMP port unreachable) and its conntrack entry is *confirmed*;
   * that entry then clashes with the LAN host's later outbound flow to the
   * same peer and MASQUERADE picks another source port (remap).
   */
  dropUnsolicited?: boolean;
  /** full-cone only: LAN endpoints mapped statically 1:1 (same port) on the public address. */
  fullConePorts?: Array<{ ip: string; port: number }>;
}

export type Site = "A" | "B";

export interface LabOptions {
  natA?: NatKind | NatConfig;
  natB?: NatKind | NatConfig;
  /** defaults to `gml<pid>` */
  prefix?: string;
  log?: (msg: string) => void;
}

const PREFIX_RE = /^gml(\d+)-/;

// ---------------------------------------------------------------------------
// availability

export interface LabAvailability {
  ok: boolean;
  reason?: string;
}

function haveBin(name: string): boolean {
  for (const dir of (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin")
    .split(":")
    .concat(["/usr/sbin", "/sbin"])) {
    if (dir && existsSync(`${dir}/${name}`)) return true;
  }
  return false;
}

/** Can this host run the lab? (root, ip, iptables, conntrack, netns support) */
export function labAvailability(extraBins: string[] = []): LabAvailability {
  if (process.platform !== "linux") return { ok: false, reason: "NAT lab needs Linux" };
  if (typeof process.getuid !== "function" || process.getuid() !== 0)
    return { ok: false, reason: "NAT lab needs root (network namespaces, iptables)" };
  for (const b of ["ip", "iptables", "iptables-restore", "conntrack", ...extraBins]) {
    if (!haveBin(b))
      return {
        ok: false,
        reason: `NAT lab needs \`${b}\` on PATH (apt-get install -y iproute2 iptables conntrack redis-server)`,
      };
  }
  const probe = `gml${process.pid}-probe`;
  try {
    execFileSync("ip", ["netns", "add", probe], { stdio: "pipe" });
    execFileSync("ip", ["-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1"], {
      stdio: "pipe",
    });
    execFileSync(
      "ip",
      [
        "netns",
        "exec",
        probe,
        "iptables",
        "-t",
        "nat",
        "-A",
        "PREROUTING",
        "-p",
        "udp",
        "-m",
        "statistic",
        "--mode",
        "nth",
        "--every",
        "2",
        "--packet",
        "0",
        "-j",
        "DNAT",
        "--to-destination",
        "198.51.100.11",
      ],
      { stdio: "pipe" },
    );
  } catch (e) {
    return {
      ok: false,
      reason: `cannot create namespaces/veth/iptables nat: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`,
    };
  } finally {
    try {
      execFileSync("ip", ["netns", "del", probe], { stdio: "pipe" });
    } catch {
      /* not created */
    }
  }
  return { ok: true };
}

// ---------------------------------------------------------------------------
// sweeping leftovers of earlier (crashed) runs

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function listNetns(): string[] {
  try {
    const out = execFileSync("ip", ["netns", "list"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return out
      .split("\n")
      .map((l) => l.trim().split(/\s+/)[0] ?? "")
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Kill every process inside `ns` (by pid) and delete the namespace. Synchronous; never throws. */
function destroyNetnsSync(ns: string): void {
  try {
    const pids = execFileSync("ip", ["netns", "pids", ns], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    })
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  } catch {
    /* ns gone */
  }
  try {
    execFileSync("ip", ["netns", "del", ns], { stdio: "pipe" });
  } catch {
    /* already gone */
  }
}

/** Delete namespaces `gml<pid>-*` whose creating process no longer exists. Returns what was removed. */
export function sweepStaleLabs(): string[] {
  const removed: string[] = [];
  for (const ns of listNetns()) {
    const m = PREFIX_RE.exec(ns);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    destroyNetnsSync(ns);
    removed.push(ns);
  }
  return removed;
}

// ---------------------------------------------------------------------------
// processes inside a namespace

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type JsonLine = Record<string, unknown>;

/** A long-lived process started with `ip netns exec NS ...` (same pid: ip execs the command). */
export class LabProcess {
  readonly lines: JsonLine[] = [];
  readonly rawOut: string[] = [];
  stderr = "";
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
  private waiters: Array<{
    pred: (l: JsonLine) => boolean;
    resolve: (l: JsonLine) => void;
    from: number;
  }> = [];
  private exitWaiters: Array<(e: Error) => void> = [];
  private buf = "";

  constructor(
    readonly name: string,
    readonly ns: string,
    readonly child: ChildProcess,
  ) {
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (d: string) => this.onData(d));
    child.stderr?.on("data", (d: string) => {
      this.stderr += d;
      if (this.stderr.length > 200_000) this.stderr = this.stderr.slice(-100_000);
    });
    child.stdin?.on("error", () => {});
    this.exited = new Promise((resolve) => {
      // 'close' (not 'exit'): stdout/stderr are drained by then
      child.on("close", (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
        const err = new Error(
          `${this.name} exited (code ${code}, signal ${signal}) while waiting; last stdout:\n${this.rawOut.slice(-10).join("\n")}\nstderr tail:\n${this.stderr.slice(-2000)}`,
        );
        for (const w of this.exitWaiters.splice(0)) w(err);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  private onData(d: string): void {
    this.buf += d;
    let i = this.buf.indexOf("\n");
    while (i >= 0) {
      const line = this.buf.slice(0, i).trim();
      this.buf = this.buf.slice(i + 1);
      if (line) this.onLine(line);
      i = this.buf.indexOf("\n");
    }
  }

  private onLine(line: string): void {
    this.rawOut.push(line);
    if (this.rawOut.length > 5000) this.rawOut.splice(0, 1000);
    let obj: JsonLine;
    try {
      const v = JSON.parse(line);
      obj = v && typeof v === "object" && !Array.isArray(v) ? (v as JsonLine) : { value: v };
    } catch {
      obj = { raw: line };
    }
    this.lines.push(obj);
    const idx = this.lines.length - 1;
    this.waiters = this.waiters.filter((w) => {
      if (idx >= w.from && w.pred(obj)) {
        w.resolve(obj);
        return false;
      }
      return true;
    });
  }

  /** First line (already seen or future) matching pred. */
  waitFor(pred: (l: JsonLine) => boolean, timeoutMs = 10_000, what = "line"): Promise<JsonLine> {
    return this.waitFrom(0, pred, timeoutMs, what);
  }

  /** First line printed after this call matching pred. */
  next(pred: (l: JsonLine) => boolean, timeoutMs = 10_000, what = "line"): Promise<JsonLine> {
    return this.waitFrom(this.lines.length, pred, timeoutMs, what);
  }

  /** Lines seen from index `from` on (use `mark()` to get an index). */
  waitFrom(
    from: number,
    pred: (l: JsonLine) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<JsonLine> {
    for (let i = from; i < this.lines.length; i++) {
      const l = this.lines[i] as JsonLine;
      if (pred(l)) return Promise.resolve(l);
    }
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        from,
        resolve: (l: JsonLine) => {
          clearTimeout(t);
          this.exitWaiters = this.exitWaiters.filter((x) => x !== onExit);
          resolve(l);
        },
      };
      const onExit = (e: Error) => {
        clearTimeout(t);
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(e);
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        this.exitWaiters = this.exitWaiters.filter((x) => x !== onExit);
        reject(
          new Error(
            `timeout after ${timeoutMs} ms waiting for ${what} from ${this.name}; last lines:\n${this.rawOut.slice(-15).join("\n")}\nstderr tail:\n${this.stderr.slice(-1500)}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(w);
      if (!this.alive)
        onExit(new Error(`${this.name} is not running; stderr tail:\n${this.stderr.slice(-2000)}`));
      else this.exitWaiters.push(onExit);
    });
  }

  mark(): number {
    return this.lines.length;
  }

  /** Write one JSON line to stdin. */
  send(obj: unknown): void {
    this.child.stdin?.write(`${JSON.stringify(obj)}\n`);
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    if (!this.alive || this.pid < 0) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      /* gone */
    }
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs = 2000): Promise<ExitInfo> {
    if (!this.alive) return this.exitInfo as ExitInfo;
    this.kill("SIGTERM");
    const t = setTimeout(() => this.kill("SIGKILL"), graceMs);
    const e = await this.exited;
    clearTimeout(t);
    return e;
  }
}

let rpcSeq = 0;

/** Request/response over a LabProcess speaking `{id, ...}` JSON lines (agents/peer.mjs). */
export async function rpc(
  p: LabProcess,
  cmd: Record<string, unknown>,
  timeoutMs = 10_000,
): Promise<JsonLine> {
  const id = `r${++rpcSeq}`;
  const wait = p.next((l) => l.id === id, timeoutMs, `reply to ${String(cmd.op)}`);
  p.send({ ...cmd, id });
  const r = await wait;
  if (r.error) throw new Error(`${p.name}: ${String(cmd.op)} failed: ${String(r.error)}`);
  return r;
}

// ---------------------------------------------------------------------------
// conntrack parsing

export interface Flow {
  proto: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** reply direction */
  rsrc: string;
  rdst: string;
  rsport: number;
  rdport: number;
  unreplied: boolean;
  line: string;
}

export function parseConntrack(out: string): Flow[] {
  const flows: Flow[] = [];
  for (const line of out.split("\n")) {
    const proto = line.trim().split(/\s+/)[0];
    if (proto !== "udp" && proto !== "tcp") continue;
    const kv = [...line.matchAll(/(src|dst|sport|dport)=(\S+)/g)].map(
      (m) => [m[1], m[2]] as [string, string],
    );
    const get = (k: string, nth: number) => kv.filter(([kk]) => kk === k)[nth]?.[1] ?? "";
    flows.push({
      proto,
      src: get("src", 0),
      dst: get("dst", 0),
      sport: Number(get("sport", 0)),
      dport: Number(get("dport", 0)),
      rsrc: get("src", 1),
      rdst: get("dst", 1),
      rsport: Number(get("sport", 1)),
      rdport: Number(get("dport", 1)),
      unreplied: line.includes("[UNREPLIED]"),
      line: line.trim(),
    });
  }
  return flows;
}

// ---------------------------------------------------------------------------
// the lab

export interface ShResult {
  stdout: string;
  stderr: string;
}

const liveLabs = new Set<NetLab>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const lab of liveLabs) lab.destroySync();
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      for (const lab of liveLabs) lab.destroySync();
      process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
    });
  }
}

function natConfig(c: NatKind | NatConfig | undefined): NatConfig {
  if (!c) return { kind: "port-restricted" };
  return typeof c === "string" ? { kind: c } : c;
}

export class NetLab {
  readonly prefix: string;
  readonly ns: {
    inet: string;
    lb: string;
    mst: string;
    natA: string;
    lanA: string;
    natB: string;
    lanB: string;
  };
  readonly procs = new Set<LabProcess>();
  private created: string[] = [];
  private closed = false;
  private readonly log: (msg: string) => void;
  natCfg: Record<Site, NatConfig> = {
    A: { kind: "port-restricted" },
    B: { kind: "port-restricted" },
  };
  lbBackends: { tcp: string[]; udp: string[] } = { tcp: [...ADDR.masters], udp: [...ADDR.masters] };

  private constructor(prefix: string, log: (msg: string) => void) {
    this.prefix = prefix;
    this.log = log;
    this.ns = {
      inet: `${prefix}-inet`,
      lb: `${prefix}-lb`,
      mst: `${prefix}-mst`,
      natA: `${prefix}-natA`,
      lanA: `${prefix}-lanA`,
      natB: `${prefix}-natB`,
      lanB: `${prefix}-lanB`,
    };
  }

  static async create(opts: LabOptions = {}): Promise<NetLab> {
    sweepStaleLabs();
    installExitHook();
    const lab = new NetLab(opts.prefix ?? `gml${process.pid}`, opts.log ?? (() => {}));
    if (!PREFIX_RE.test(`${lab.prefix}-x`))
      throw new Error(`lab prefix must look like gml<pid>: ${lab.prefix}`);
    liveLabs.add(lab);
    try {
      await lab.build(natConfig(opts.natA), natConfig(opts.natB));
    } catch (e) {
      await lab.close();
      throw e;
    }
    return lab;
  }

  /** Run a command in the root namespace (only `ip`-family tools). */
  private async run(cmd: string, args: string[]): Promise<ShResult> {
    try {
      const { stdout, stderr } = await execFileP(cmd, args, {
        encoding: "utf8",
        maxBuffer: 16 << 20,
      });
      return { stdout, stderr };
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`${cmd} ${args.join(" ")}: ${err.stderr?.trim() || err.message}`);
    }
  }

  /** Run a command inside a namespace and wait for it. */
  sh(ns: string, argv: string[]): Promise<ShResult> {
    return this.run("ip", ["netns", "exec", ns, ...argv]);
  }

  /** Lines look like `-n NS <ip args>`; consecutive lines for one namespace run as one `ip -n NS -batch -`. */
  private async ipBatch(lines: string[]): Promise<void> {
    const groups: Array<{ ns: string; cmds: string[] }> = [];
    for (const line of lines) {
      const m = /^-n (\S+) (.*)$/.exec(line);
      if (!m) throw new Error(`bad batch line ${line}`);
      const [, ns, cmd] = m as unknown as [string, string, string];
      const last = groups[groups.length - 1];
      if (last && last.ns === ns) last.cmds.push(cmd);
      else groups.push({ ns, cmds: [cmd] });
    }
    for (const g of groups) {
      await new Promise<void>((resolve, reject) => {
        const c = spawn("ip", ["-n", g.ns, "-batch", "-"], { stdio: ["pipe", "pipe", "pipe"] });
        let err = "";
        c.stderr.on("data", (d) => {
          err += d;
        });
        c.on("error", reject);
        c.on("exit", (code) =>
          code === 0
            ? resolve()
            : reject(new Error(`ip -n ${g.ns} -batch failed: ${err.trim()}\n${g.cmds.join("\n")}`)),
        );
        c.stdin.end(`${g.cmds.join("\n")}\n`);
      });
    }
  }

  private async iptablesRestore(ns: string, rules: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const c = spawn("ip", ["netns", "exec", ns, "iptables-restore"], {
        stdio: ["pipe", "pipe", "pipe"],
      });
      let err = "";
      c.stderr.on("data", (d) => {
        err += d;
      });
      c.on("error", reject);
      c.on("exit", (code) =>
        code === 0
          ? resolve()
          : reject(new Error(`iptables-restore in ${ns} failed: ${err.trim()}\n${rules}`)),
      );
      c.stdin.end(rules);
    });
  }

  private async sysctl(ns: string, kv: Record<string, string | number>): Promise<void> {
    await this.sh(ns, ["sysctl", "-q", ...Object.entries(kv).map(([k, v]) => `${k}=${v}`)]);
  }

  private async build(natA: NatConfig, natB: NatConfig): Promise<void> {
    const t0 = Date.now();
    const n = this.ns;
    for (const ns of Object.values(n)) {
      await this.run("ip", ["netns", "add", ns]);
      this.created.push(ns);
    }
    const b: string[] = [];
    for (const ns of Object.values(n)) b.push(`-n ${ns} link set lo up`);
    // internet: a bridge with the router address; everyone public hangs off it
    b.push(`-n ${n.inet} link add br0 type bridge`);
    b.push(`-n ${n.inet} addr add ${ADDR.inetRouter}/24 dev br0`);
    b.push(`-n ${n.inet} link set br0 up`);
    const uplink = (ns: string, port: string, addr: string) => {
      b.push(`-n ${n.inet} link add ${port} type veth peer name eth0 netns ${ns}`);
      b.push(`-n ${n.inet} link set ${port} master br0`);
      b.push(`-n ${n.inet} link set ${port} up`);
      b.push(`-n ${ns} addr add ${addr}/24 dev eth0`);
      b.push(`-n ${ns} link set eth0 up`);
    };
    uplink(n.lb, "p-lb", ADDR.vip);
    uplink(n.natA, "p-natA", ADDR.natA.pub);
    uplink(n.natB, "p-natB", ADDR.natB.pub);
    // LB <-> masters' backend network
    b.push(`-n ${n.lb} link add eth1 type veth peer name eth0 netns ${n.mst}`);
    b.push(`-n ${n.lb} addr add ${ADDR.lbBackendSide}/24 dev eth1`);
    b.push(`-n ${n.lb} link set eth1 up`);
    for (const a of [ADDR.redis, ...ADDR.masters]) b.push(`-n ${n.mst} addr add ${a}/24 dev eth0`);
    b.push(`-n ${n.mst} link set eth0 up`);
    b.push(`-n ${n.mst} route add default via ${ADDR.lbBackendSide}`);
    // LANs
    const lan = (nat: string, lanNs: string, gw: string, hosts: readonly string[]) => {
      b.push(`-n ${nat} link add eth1 type veth peer name eth0 netns ${lanNs}`);
      b.push(`-n ${nat} addr add ${gw}/26 dev eth1`);
      b.push(`-n ${nat} link set eth1 up`);
      for (const h of hosts) b.push(`-n ${lanNs} addr add ${h}/26 dev eth0`);
      b.push(`-n ${lanNs} link set eth0 up`);
      b.push(`-n ${lanNs} route add default via ${gw}`);
      b.push(`-n ${nat} route add default via ${ADDR.inetRouter}`);
    };
    lan(n.natA, n.lanA, ADDR.natA.lan, [ADDR.gameHost]);
    lan(n.natB, n.lanB, ADDR.natB.lan, ADDR.clientHosts);
    b.push(`-n ${n.lb} route add default via ${ADDR.inetRouter}`);
    await this.ipBatch(b);
    for (const ns of [n.inet, n.lb, n.natA, n.natB]) {
      await this.sysctl(ns, {
        "net.ipv4.ip_forward": 1,
        "net.ipv4.conf.all.rp_filter": 0,
        "net.ipv4.conf.default.rp_filter": 0,
      });
    }
    await this.setLbBackends([...ADDR.masters]);
    await this.setNat("A", natA);
    await this.setNat("B", natB);
    this.log(`lab ${this.prefix} up in ${Date.now() - t0} ms`);
  }

  /**
   * (Re)write the LB's DNAT rules: new flows go round-robin (iptables
   * `statistic --mode nth`) to the given backends, in that order, starting
   * with the first one. TCP and UDP count separately. Rewriting the rules
   * resets the nth counters; existing flows (conntrack) keep their backend.
   */
  async setLbBackends(tcp: string[], udp: string[] = tcp): Promise<void> {
    const rr = (proto: string, backends: string[]) =>
      backends.map((ip, i) => {
        const left = backends.length - i;
        const stat = left > 1 ? `-m statistic --mode nth --every ${left} --packet 0 ` : "";
        return `-A PREROUTING -d ${ADDR.vip}/32 -p ${proto} -m ${proto} --dport ${MASTER_PORT} ${stat}-j DNAT --to-destination ${ip}:${MASTER_PORT}`;
      });
    const rules = [
      "*nat",
      ":PREROUTING ACCEPT [0:0]",
      ":INPUT ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      ":POSTROUTING ACCEPT [0:0]",
      ...rr("tcp", tcp),
      ...rr("udp", udp),
      "COMMIT",
      "",
    ].join("\n");
    await this.iptablesRestore(this.ns.lb, rules);
    this.lbBackends = { tcp: [...tcp], udp: [...udp] };
  }

  /**
   * Take a backend out of rotation the way a cloud LB / kube-proxy does when an
   * endpoint dies: remove it from the DNAT rules and delete the conntrack
   * entries pointing at it (otherwise a UDP flow that keeps sending stays
   * pinned to the dead backend forever).
   */
  async removeLbBackend(ip: string): Promise<void> {
    await this.setLbBackends(
      this.lbBackends.tcp.filter((x) => x !== ip),
      this.lbBackends.udp.filter((x) => x !== ip),
    );
    await this.conntrackDelete(this.ns.lb, ["--reply-src", ip]);
  }

  async conntrackList(ns: string, args: string[] = []): Promise<Flow[]> {
    const { stdout } = await this.sh(ns, ["conntrack", "-L", ...args]);
    return parseConntrack(stdout);
  }

  async conntrackDelete(ns: string, args: string[] = []): Promise<void> {
    try {
      await this.sh(ns, ["conntrack", "-D", ...args]);
    } catch (e) {
      // conntrack -D exits 1 when nothing matched
      if (!/0 flow entries/.test(String(e))) throw e;
    }
  }

  /** Flows through the LB towards the VIP: who (public ip:port) landed on which master. */
  async lbFlows(
    proto?: "tcp" | "udp",
  ): Promise<Array<{ proto: string; src: string; sport: number; backend: string }>> {
    const flows = await this.conntrackList(this.ns.lb, proto ? ["-p", proto] : []);
    return flows
      .filter((f) => f.dst === ADDR.vip && f.dport === MASTER_PORT)
      .map((f) => ({ proto: f.proto, src: f.src, sport: f.sport, backend: f.rsrc }));
  }

  natNs(site: Site): string {
    return site === "A" ? this.ns.natA : this.ns.natB;
  }

  /**
   * Configure one NAT site (rewrites its nat + filter tables and flushes its
   * conntrack table, so do it while no flow through it matters).
   */
  async setNat(site: Site, cfgIn: NatKind | NatConfig): Promise<void> {
    const cfg = natConfig(cfgIn);
    const ns = this.natNs(site);
    const pub = site === "A" ? ADDR.natA.pub : ADDR.natB.pub;
    const lanNet = site === "A" ? "192.0.2.0/26" : "192.0.2.64/26";
    const drop = cfg.dropUnsolicited ?? true;
    const nat = [
      "*nat",
      ":PREROUTING ACCEPT [0:0]",
      ":INPUT ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      ":POSTROUTING ACCEPT [0:0]",
    ];
    const filter = [
      "*filter",
      ":INPUT ACCEPT [0:0]",
      ":FORWARD DROP [0:0]",
      ":OUTPUT ACCEPT [0:0]",
    ];
    // forwarding: LAN -> internet always, internet -> LAN only for established flows (and DNAT'd full-cone ports)
    filter.push("-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT");
    filter.push(`-A FORWARD -i eth1 -o eth0 -s ${lanNet} -j ACCEPT`);
    switch (cfg.kind) {
      case "port-restricted":
        nat.push(`-A POSTROUTING -o eth0 -s ${lanNet} -j MASQUERADE`);
        break;
      case "symmetric":
        nat.push(`-A POSTROUTING -o eth0 -s ${lanNet} -j MASQUERADE --random-fully`);
        break;
      case "full-cone":
        for (const { ip, port } of cfg.fullConePorts ?? []) {
          nat.push(
            `-A PREROUTING -i eth0 -d ${pub}/32 -p udp -m udp --dport ${port} -j DNAT --to-destination ${ip}:${port}`,
          );
          nat.push(
            `-A POSTROUTING -o eth0 -s ${ip}/32 -p udp -m udp --sport ${port} -j SNAT --to-source ${pub}:${port}`,
          );
          filter.push(
            `-A FORWARD -i eth0 -o eth1 -d ${ip}/32 -p udp -m udp --dport ${port} -m conntrack --ctstate DNAT -j ACCEPT`,
          );
        }
        nat.push(`-A POSTROUTING -o eth0 -s ${lanNet} -j MASQUERADE`);
        break;
    }
    if (drop) {
      // Unsolicited inbound UDP to the NAT box itself: drop in filter INPUT,
      // so the conntrack entry it created is never confirmed.
      filter.push("-A INPUT -i eth0 -p udp -m conntrack --ctstate NEW -j DROP");
    }
    await this.iptablesRestore(ns, [...nat, "COMMIT", ...filter, "COMMIT", ""].join("\n"));
    await this.conntrackDelete(ns, []);
    this.natCfg[site] = cfg;
  }

  /**
   * Forget every flow of both NAT sites: their own conntrack tables, and the
   * LB's entries from their public addresses (closed TCP flows linger there
   * for minutes). Only between tests, when no flow through them matters.
   */
  async forgetSiteFlows(): Promise<void> {
    for (const ns of [this.ns.natA, this.ns.natB]) await this.conntrackDelete(ns, []);
    for (const src of [ADDR.natA.pub, ADDR.natB.pub])
      await this.conntrackDelete(this.ns.lb, ["-s", src]);
  }

  /** Run iptables inside a namespace, e.g. `iptables(ns, ["-I", "FORWARD", ...])`. */
  async iptables(ns: string, args: string[]): Promise<void> {
    await this.sh(ns, ["iptables", "-w", ...args]);
  }

  /**
   * Hold back (drop in the NAT's FORWARD chain, before any mapping is made)
   * UDP from a LAN host to a public endpoint, until the returned release()
   * is called. Useful to make "who knocks first" deterministic (this kernel
   * has no netem to delay packets).
   */
  async holdUdp(
    site: Site,
    from: string,
    to: { ip: string; port: number },
  ): Promise<() => Promise<void>> {
    const ns = this.natNs(site);
    const rule = [
      "FORWARD",
      "-s",
      `${from}/32`,
      "-d",
      `${to.ip}/32`,
      "-p",
      "udp",
      "-m",
      "udp",
      "--dport",
      String(to.port),
      "-j",
      "DROP",
    ];
    await this.iptables(ns, ["-I", ...rule]);
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await this.iptables(ns, ["-D", ...rule]);
    };
  }

  /** Forget UDP flows in the LB and both NATs (between tests: fresh mappings, fresh LB decisions). */
  async flushUdpState(): Promise<void> {
    for (const ns of [this.ns.lb, this.ns.natA, this.ns.natB])
      await this.conntrackDelete(ns, ["-p", "udp"]);
  }

  /** Start a long-lived process in a namespace. stdout is parsed as JSON lines. */
  spawn(
    ns: string,
    name: string,
    argv: string[],
    opts: { env?: Record<string, string>; cwd?: string } = {},
  ): LabProcess {
    if (this.closed) throw new Error("lab is closed");
    const child = spawn("ip", ["netns", "exec", ns, ...argv], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const p = new LabProcess(name, ns, child);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** Start a Node script in a namespace (same node binary as the test runner). */
  node(
    ns: string,
    name: string,
    script: string,
    args: string[] = [],
    opts: { env?: Record<string, string>; cwd?: string } = {},
  ): LabProcess {
    return this.spawn(ns, name, [process.execPath, script, ...args], opts);
  }

  /** Stop everything we started and delete every namespace we created. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.procs].map((p) => p.stop(1500)));
    this.destroySync();
  }

  /** Synchronous teardown (also used from the process 'exit' handler). */
  destroySync(): void {
    this.closed = true;
    for (const p of this.procs) p.kill("SIGKILL");
    for (const ns of this.created.splice(0).reverse()) destroyNetnsSync(ns);
    // anything with our prefix that we lost track of
    for (const ns of listNetns()) if (ns.startsWith(`${this.prefix}-`)) destroyNetnsSync(ns);
    liveLabs.delete(this);
  }
}
