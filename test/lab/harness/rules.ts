// The lab's firewall: the load balancer's DNAT round-robin, each NAT site's
// nat and filter tables (the NAT kinds), the rules that hold or black-hole
// traffic during a scenario, and the conntrack tables that all of these
// leave behind (read, parsed, flushed).
import { ADDR, type LabNamespaces, MASTER_PORT } from "./topology.js";
import { iptablesRestore, sh } from "./shell.js";

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
  /** full-cone only: LAN endpoints mapped statically 1:1 (same port) on their public address. */
  fullConePorts?: Array<{ ip: string; port: number }>;
}

export type Site = "A" | "B";

export function natConfig(c: NatKind | NatConfig | undefined): NatConfig {
  if (!c) return { kind: "port-restricted" };
  return typeof c === "string" ? { kind: c } : c;
}

/**
 * What a balancer does with the flows of a backend it takes out of rotation:
 * `all` deletes them (an LB that resets or re-balances a failed target's
 * flows; the next packet of such a flow is picked up anew and lands on a live
 * backend), `udp` deletes only the UDP ones (kube-proxy on endpoint removal:
 * TCP flows keep going to the old address), `none` keeps every flow (rotation
 * only: what a Kubernetes endpoint removal does for a terminating pod).
 */
export type FlowsOnRemoval = "all" | "udp" | "none";

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
  /** Seconds until conntrack forgets the flow (its timeout column). */
  timeoutS: number;
  /** TCP state (ESTABLISHED, ...), empty for UDP. */
  state: string;
  line: string;
}

export function parseConntrack(out: string): Flow[] {
  const flows: Flow[] = [];
  for (const line of out.split("\n")) {
    const cols = line.trim().split(/\s+/);
    const proto = cols[0];
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
      timeoutS: Number(cols[2]),
      state: proto === "tcp" ? (cols[3] ?? "") : "",
      line: line.trim(),
    });
  }
  return flows;
}

/** A rule added for a while; `release()` takes it out again (idempotent). */
export type Release = () => Promise<void>;

export class LabRules {
  natCfg: Record<Site, NatConfig> = {
    A: { kind: "port-restricted" },
    B: { kind: "port-restricted" },
  };
  lbBackends: { tcp: string[]; udp: string[] } = { tcp: [...ADDR.masters], udp: [...ADDR.masters] };

  /** LB changes read and rewrite the backend list: one at a time (scenarios run some at once). */
  private lbChanges: Promise<unknown> = Promise.resolve();

  constructor(private readonly ns: LabNamespaces) {}

  private serially<T>(change: () => Promise<T>): Promise<T> {
    const next = this.lbChanges.then(change, change);
    this.lbChanges = next.catch(() => undefined);
    return next;
  }

  /**
   * (Re)write the LB's DNAT rules: new flows go round-robin (iptables
   * `statistic --mode nth`) to the given backends, in that order, starting
   * with the first one. TCP and UDP count separately. Rewriting the rules
   * resets the nth counters; existing flows (conntrack) keep their backend.
   */
  setLbBackends(tcp: string[], udp: string[] = tcp): Promise<void> {
    return this.serially(() => this.writeLbRules(tcp, udp));
  }

  private async writeLbRules(tcp: string[], udp: string[]): Promise<void> {
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
    await iptablesRestore(this.ns.lb, rules);
    this.lbBackends = { tcp: [...tcp], udp: [...udp] };
  }

  /** Adds a backend at the end of the rotation of both protocols (new flows only). */
  addLbBackend(ip: string): Promise<void> {
    return this.serially(() =>
      this.writeLbRules([...this.lbBackends.tcp, ip], [...this.lbBackends.udp, ip]),
    );
  }

  /**
   * Take a backend out of rotation. By default (`all`) the way a cloud LB /
   * kube-proxy treats an endpoint that died: out of the DNAT rules, and its
   * conntrack entries deleted (otherwise a UDP flow that keeps sending stays
   * pinned to the dead backend forever). See FlowsOnRemoval for the others.
   */
  removeLbBackend(ip: string, flows: FlowsOnRemoval = "all"): Promise<void> {
    return this.serially(async () => {
      await this.writeLbRules(
        this.lbBackends.tcp.filter((x) => x !== ip),
        this.lbBackends.udp.filter((x) => x !== ip),
      );
      if (flows === "all") await this.conntrackDelete(this.ns.lb, ["--reply-src", ip]);
      if (flows === "udp") await this.conntrackDelete(this.ns.lb, ["-p", "udp", "--reply-src", ip]);
    });
  }

  async conntrackList(ns: string, args: string[] = []): Promise<Flow[]> {
    const { stdout } = await sh(ns, ["conntrack", "-L", ...args]);
    return parseConntrack(stdout);
  }

  async conntrackDelete(ns: string, args: string[] = []): Promise<void> {
    try {
      await sh(ns, ["conntrack", "-D", ...args]);
    } catch (e) {
      // conntrack -D exits 1 when nothing matched
      if (!/0 flow entries/.test(String(e))) throw e;
    }
  }

  /** Flows through the LB towards the VIP: who (public ip:port) landed on which master. */
  async lbFlows(
    proto?: "tcp" | "udp",
  ): Promise<Array<{ proto: string; src: string; sport: number; backend: string; flow: Flow }>> {
    const flows = await this.conntrackList(this.ns.lb, proto ? ["-p", proto] : []);
    return flows
      .filter((f) => f.dst === ADDR.vip && f.dport === MASTER_PORT)
      .map((f) => ({ proto: f.proto, src: f.src, sport: f.sport, backend: f.rsrc, flow: f }));
  }

  natNs(site: Site): string {
    return site === "A" ? this.ns.natA : this.ns.natB;
  }

  /**
   * Configure one NAT site (rewrites its nat + filter tables and flushes its
   * conntrack table, so do it while no flow through it matters). Site A gives
   * each game host its own public address (see topology.ts); the kind applies
   * to each of them.
   */
  async setNat(site: Site, cfgIn: NatKind | NatConfig): Promise<void> {
    const cfg = natConfig(cfgIn);
    const ns = this.natNs(site);
    const lanNet = site === "A" ? ADDR.natA.lanNet : ADDR.natB.lanNet;
    // hosts with a public address of their own (site A's 2nd and later game hosts, site B's players)
    const ownPublic = site === "A" ? ADDR.gameSites.slice(1) : ADDR.playerSites;
    const pubOf = (ip: string) =>
      ownPublic.find((s) => s.lan === ip)?.pub ?? (site === "A" ? ADDR.natA.pub : ADDR.natB.pub);
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
    const random = cfg.kind === "symmetric" ? " --random-fully" : "";
    if (cfg.kind === "full-cone") {
      for (const { ip, port } of cfg.fullConePorts ?? []) {
        const pub = pubOf(ip);
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
    }
    for (const { lan, pub } of ownPublic)
      nat.push(`-A POSTROUTING -o eth0 -s ${lan}/32 -j SNAT --to-source ${pub}${random}`);
    nat.push(`-A POSTROUTING -o eth0 -s ${lanNet} -j MASQUERADE${random}`);
    if (drop) {
      // Unsolicited inbound UDP to the NAT box itself: drop in filter INPUT,
      // so the conntrack entry it created is never confirmed.
      filter.push("-A INPUT -i eth0 -p udp -m conntrack --ctstate NEW -j DROP");
    }
    await iptablesRestore(ns, [...nat, "COMMIT", ...filter, "COMMIT", ""].join("\n"));
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
    for (const src of [...ADDR.gameSites, ...ADDR.playerSites]
      .map((s) => s.pub)
      .concat(ADDR.natB.pub))
      await this.conntrackDelete(this.ns.lb, ["-s", src]);
  }

  /** Run iptables inside a namespace, e.g. `iptables(ns, ["-I", "FORWARD", ...])`. */
  async iptables(ns: string, args: string[]): Promise<void> {
    await sh(ns, ["iptables", "-w", ...args]);
  }

  /** Inserts rules (each an iptables rule spec with its chain first) until released. */
  private async insertRules(ns: string, rules: string[][]): Promise<Release> {
    const added: string[][] = [];
    try {
      for (const rule of rules) {
        await this.iptables(ns, ["-I", ...rule]);
        added.push(rule);
      }
    } catch (e) {
      for (const rule of added) await this.iptables(ns, ["-D", ...rule]).catch(() => undefined);
      throw e;
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      for (const rule of added) await this.iptables(ns, ["-D", ...rule]);
    };
  }

  /**
   * Hold back (drop in the NAT's FORWARD chain, before any mapping is made)
   * UDP from a LAN host to a public endpoint, until the returned release()
   * is called. Useful to make "who knocks first" deterministic (this kernel
   * has no netem to delay packets).
   */
  holdUdp(site: Site, from: string, to: { ip: string; port: number }): Promise<Release> {
    return this.insertRules(this.natNs(site), [
      [
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
      ],
    ]);
  }

  /**
   * A backend address vanishes from the network, as a lost host does: every
   * packet to or from it is dropped in the masters' namespace, silently (no
   * RST, no ICMP), until released. The masters share that namespace, so this
   * is per address; the caller also stops the process behind it.
   */
  blackHole(ip: string): Promise<Release> {
    return this.insertRules(this.ns.mst, [
      ["INPUT", "-d", `${ip}/32`, "-j", "DROP"],
      ["OUTPUT", "-s", `${ip}/32`, "-j", "DROP"],
    ]);
  }

  /** Forget UDP flows in the LB and both NATs (between tests: fresh mappings, fresh LB decisions). */
  async flushUdpState(): Promise<void> {
    for (const ns of [this.ns.lb, this.ns.natA, this.ns.natB])
      await this.conntrackDelete(ns, ["-p", "udp"]);
  }
}
