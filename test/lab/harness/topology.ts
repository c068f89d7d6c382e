// The lab's network: which namespaces exist, their addresses, veths, routes
// and forwarding. All addresses are TEST-NET; nothing routes outside the
// namespaces built here.
//
//                          "internet"  203.0.113.0/24  (ns <p>-inet, bridge br0, 203.0.113.1)
//              +-----------------------+---------------------------+
//              |                       |                           |
//   ns <p>-lb  eth0 203.0.113.10 (VIP) ns <p>-natA eth0 .20 .21 .22  ns <p>-natB eth0 .30-.34
//              eth1 198.51.100.1                  eth1 192.0.2.1/26           eth1 192.0.2.65/26
//              |  DNAT nth round-robin            |                           |
//   ns <p>-mst eth0 198.51.100.2 (redis)    ns <p>-lanA 192.0.2.10 .11 .12 ns <p>-lanB 192.0.2.70-.75
//                   198.51.100.11/.12/.13 (masters), .14/.15/.16 (their replacements),
//                   default route via the LB (no SNAT)
//
// Game host 192.0.2.1x leaves NAT A as 203.0.113.2x: a GML server is known by
// its public IP, so several game servers behind NATs need several public IPs.
// Client hosts .70 and .71 share NAT B's first address (players in one home);
// .72-.75 leave as .31-.34 (players in homes of their own: the master
// pairs a TCP connect with a UDP endpoint of the same IP, so players behind
// one address connecting at the same moment to different games can be paired
// with each other's port, which a stream of connects must not be mistaken for).
// Interfaces are created directly inside the target namespaces
// (`ip -n A link add x type veth peer name y netns B`), so no interface name
// ever exists in the root namespace and parallel runs cannot collide.
import { ipBatch, run, sysctl } from "./shell.js";

/** A host behind a NAT and the public address the NAT gives it. */
export interface GameSite {
  lan: string;
  pub: string;
}

const GAME_SITES: readonly GameSite[] = [
  { lan: "192.0.2.10", pub: "203.0.113.20" },
  { lan: "192.0.2.11", pub: "203.0.113.21" },
  { lan: "192.0.2.12", pub: "203.0.113.22" },
];

const PLAYER_SITES: readonly GameSite[] = [
  { lan: "192.0.2.72", pub: "203.0.113.31" },
  { lan: "192.0.2.73", pub: "203.0.113.32" },
  { lan: "192.0.2.74", pub: "203.0.113.33" },
  { lan: "192.0.2.75", pub: "203.0.113.34" },
];

export const ADDR = {
  inetRouter: "203.0.113.1",
  vip: "203.0.113.10",
  lbBackendSide: "198.51.100.1",
  redis: "198.51.100.2",
  masters: ["198.51.100.11", "198.51.100.12", "198.51.100.13"] as const,
  /** Where a rolling restart starts each master's replacement (the old one still drains). */
  replacementMasters: ["198.51.100.14", "198.51.100.15", "198.51.100.16"] as const,
  natA: { pub: "203.0.113.20", lan: "192.0.2.1", lanNet: "192.0.2.0/26" },
  natB: { pub: "203.0.113.30", lan: "192.0.2.65", lanNet: "192.0.2.64/26" },
  /** The first game host (the one most scenarios use). */
  gameHost: "192.0.2.10",
  gameSites: GAME_SITES,
  /** Behind NAT B's first address. */
  clientHosts: ["192.0.2.70", "192.0.2.71"] as const,
  /** Behind NAT B, each with a public address of its own. */
  playerSites: PLAYER_SITES,
} as const;

export const MASTER_PORT = 6510;

export type LabRole = "inet" | "lb" | "mst" | "natA" | "lanA" | "natB" | "lanB";
export type LabNamespaces = Record<LabRole, string>;

/** Namespace names `<prefix>-<role>`; the prefix is `gml<pid>` (see teardown.ts). */
export function namespaceNames(prefix: string): LabNamespaces {
  return {
    inet: `${prefix}-inet`,
    lb: `${prefix}-lb`,
    mst: `${prefix}-mst`,
    natA: `${prefix}-natA`,
    lanA: `${prefix}-lanA`,
    natB: `${prefix}-natB`,
    lanB: `${prefix}-lanB`,
  };
}

/**
 * Creates every namespace (reporting each to `created` as soon as it exists, so
 * a half-built lab is still torn down), then links, addresses, routes and
 * forwarding. Firewall rules come after, from rules.ts.
 */
export async function buildTopology(
  n: LabNamespaces,
  created: (ns: string) => void,
): Promise<void> {
  for (const ns of Object.values(n)) {
    await run("ip", ["netns", "add", ns]);
    created(ns);
  }
  const b: string[] = [];
  for (const ns of Object.values(n)) b.push(`-n ${ns} link set lo up`);
  // internet: a bridge with the router address; everyone public hangs off it
  b.push(`-n ${n.inet} link add br0 type bridge`);
  b.push(`-n ${n.inet} addr add ${ADDR.inetRouter}/24 dev br0`);
  b.push(`-n ${n.inet} link set br0 up`);
  const uplink = (ns: string, port: string, addrs: readonly string[]) => {
    b.push(`-n ${n.inet} link add ${port} type veth peer name eth0 netns ${ns}`);
    b.push(`-n ${n.inet} link set ${port} master br0`);
    b.push(`-n ${n.inet} link set ${port} up`);
    for (const a of addrs) b.push(`-n ${ns} addr add ${a}/24 dev eth0`);
    b.push(`-n ${ns} link set eth0 up`);
  };
  uplink(n.lb, "p-lb", [ADDR.vip]);
  uplink(
    n.natA,
    "p-natA",
    ADDR.gameSites.map((s) => s.pub),
  );
  uplink(n.natB, "p-natB", [ADDR.natB.pub, ...ADDR.playerSites.map((s) => s.pub)]);
  // LB <-> masters' backend network
  b.push(`-n ${n.lb} link add eth1 type veth peer name eth0 netns ${n.mst}`);
  b.push(`-n ${n.lb} addr add ${ADDR.lbBackendSide}/24 dev eth1`);
  b.push(`-n ${n.lb} link set eth1 up`);
  for (const a of [ADDR.redis, ...ADDR.masters, ...ADDR.replacementMasters])
    b.push(`-n ${n.mst} addr add ${a}/24 dev eth0`);
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
  lan(
    n.natA,
    n.lanA,
    ADDR.natA.lan,
    ADDR.gameSites.map((s) => s.lan),
  );
  lan(n.natB, n.lanB, ADDR.natB.lan, [...ADDR.clientHosts, ...ADDR.playerSites.map((s) => s.lan)]);
  b.push(`-n ${n.lb} route add default via ${ADDR.inetRouter}`);
  await ipBatch(b);
  for (const ns of [n.inet, n.lb, n.natA, n.natB]) {
    await sysctl(ns, {
      "net.ipv4.ip_forward": 1,
      "net.ipv4.conf.all.rp_filter": 0,
      "net.ipv4.conf.default.rp_filter": 0,
    });
  }
}
