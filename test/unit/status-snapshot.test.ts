// The status page's view model: IPs by the log-IP rule, counts, the lobby as
// games get it, one server's detail by an opaque key, warnings in words.
import { describe, expect, it } from "vitest";
import { collectLobby } from "../../src/cluster/lobby.js";
import type { ServerRegistration } from "../../src/cluster/types.js";
import type { LogIpMode } from "../../src/config/index.js";
import type { RateHistory } from "../../src/http/status/counter-history.js";
import {
  buildStatusSnapshot,
  type StatusQuery,
  serverKeyer,
} from "../../src/http/status/status-snapshot.js";
import type {
  NodeStatusInfo,
  StatusReadiness,
  StatusSource,
} from "../../src/http/status/status-source.js";
import { ipFormatter } from "../../src/logging.js";

const NOW = 1_800_000_000_000;

function server(ip: string, game: string, createdTimeSec: number, region = ""): ServerRegistration {
  return {
    ip,
    udpPort: 40_000,
    version: "1.2.4",
    data: [game, region, "", "", "", "", "", ""],
    createdTimeSec,
    ownerNodeId: "node-a",
    ownerConnectionId: `c-${ip}`,
  };
}

const SERVERS = [
  server("203.0.113.7", "SpaceRace", 100, "EU"),
  server("203.0.113.8", "SpaceRace", 200, "US"),
  server("198.51.100.20", "KartParty", 300, "EU"),
  server("2001:db8::5", "", 400),
];

const EMPTY_RATES: RateHistory = {
  intervalMs: 1000,
  timesMs: [],
  rates: { connects: {}, lobby: {}, badInput: {} },
  totals: { connects: {}, lobby: {}, badInput: {} },
};

interface FakeOptions {
  logIp?: LogIpMode;
  lobbyOrder?: "documented" | "reference";
  readiness?: StatusReadiness;
  collapsed?: boolean;
  nodes?: NodeStatusInfo[];
  /** What the store counts (more than the scan returns when it holds more than the scan limit). */
  storeCount?: number;
}

function fakeSource(options: FakeOptions = {}): StatusSource & { queries: unknown[] } {
  const queries: unknown[] = [];
  return {
    queries,
    identity: {
      nodeId: "node-a",
      version: "0.1.0",
      storeMode: "redis",
      logIp: options.logIp ?? "full",
      lobbyOrder: options.lobbyOrder ?? "documented",
      tokenRequired: false,
    },
    readiness: () =>
      options.readiness ?? {
        ready: true,
        checks: { listening: true, store: true, notDraining: true },
        warnings: [],
      },
    sourceAddressCollapsed: () => options.collapsed ?? false,
    listNodes: async () =>
      options.nodes ?? [
        { nodeId: "node-a", startedAtMs: NOW - 60_000, lastSeenMs: NOW, servers: 4 },
      ],
    queryLobby: async (query) => {
      queries.push(query);
      const newestFirst = [...SERVERS].sort((a, b) => b.createdTimeSec - a.createdTimeSec);
      return collectLobby(newestFirst, true, query, { scanLimit: 1_000, replyMaxBytes: null });
    },
    countServers: async () => options.storeCount ?? SERVERS.length,
    findServer: async (ip) => SERVERS.find((s) => s.ip === ip) ?? null,
    rates: () => EMPTY_RATES,
  };
}

function query(overrides: Partial<StatusQuery> = {}): StatusQuery {
  return {
    filters: ["", "", "", "", "", "", "", ""],
    sortBy: "date",
    direction: "DESC",
    limit: 50,
    serverKey: null,
    ...overrides,
  };
}

async function snapshot(source: StatusSource, q: StatusQuery = query()) {
  const keyOf = serverKeyer(Buffer.alloc(32, 1));
  return buildStatusSnapshot(source, q, ipFormatter(source.identity.logIp), keyOf, NOW);
}

describe("status snapshot", () => {
  it("counts every registered server and the servers of each game (data1), most first", async () => {
    const result = await snapshot(fakeSource());
    expect(result.servers).toEqual({
      total: 4,
      scanned: 4,
      byGame: [
        { game: "SpaceRace", servers: 2 },
        { game: "", servers: 1 },
        { game: "KartParty", servers: 1 },
      ],
    });
  });

  it("takes the total from the store's count, not from the rows its scan returned", async () => {
    const result = await snapshot(fakeSource({ storeCount: 25_000 }));
    expect(result.servers.total).toBe(25_000);
    expect(result.servers.scanned).toBe(4);
  });

  it("lists the lobby filtered and sorted like a game's lobby2, counting matches before the limit", async () => {
    const filters = ["", "EU", "", "", "", "", "", ""];
    const result = await snapshot(fakeSource(), query({ filters, direction: "ASC", limit: 1 }));
    expect(result.lobby.total).toBe(2);
    expect(result.lobby.servers.map((s) => s.ip)).toEqual(["203.0.113.7"]);
  });

  it("inverts the direction when the node runs the reference lobby order, as games get it", async () => {
    const source = fakeSource({ lobbyOrder: "reference" });
    const result = await snapshot(source, query({ direction: "DESC" }));
    expect(result.lobby.servers.map((s) => s.ip)[0]).toBe("203.0.113.7"); // oldest first
  });

  it.each([
    ["hash", /^ip-[0-9a-f]{12}$/],
    ["truncate", /^(203\.0\.113\.0\/24|198\.51\.100\.0\/24|2001:db8:.*\/48)$/],
  ] as const)("never sends a raw IP in %s mode", async (mode, shape) => {
    const source = fakeSource({ logIp: mode });
    const first = await snapshot(source);
    const key = first.lobby.servers[0]?.key ?? "";
    const result = await snapshot(source, query({ serverKey: key }));
    const json = JSON.stringify(result);
    for (const { ip } of SERVERS) expect(json).not.toContain(`"${ip}"`);
    expect(json).not.toContain("203.0.113.7");
    for (const row of result.lobby.servers) expect(row.ip).toMatch(shape);
    expect(result.detail?.ip).toMatch(shape);
  });

  it("shows IPs in full in full mode", async () => {
    const result = await snapshot(fakeSource());
    expect(result.lobby.servers.map((s) => s.ip)).toContain("198.51.100.20");
  });

  it("finds one server's detail by its opaque key, and answers null for an unknown key", async () => {
    const source = fakeSource();
    const listed = (await snapshot(source)).lobby.servers.find((s) => s.ip === "198.51.100.20");
    expect(listed?.key).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const found = await snapshot(source, query({ serverKey: listed?.key ?? "" }));
    expect(found.detail).toMatchObject({
      ip: "198.51.100.20",
      data: ["KartParty", "EU", "", "", "", "", "", ""],
      ownerNodeId: "node-a",
      ownerAlive: true,
    });
    const missing = await snapshot(source, query({ serverKey: "AAAAAAAAAAAAAAAA" }));
    expect(missing.detail).toBeNull();
  });

  it("says nothing is wrong when nothing is", async () => {
    expect((await snapshot(fakeSource())).warnings).toEqual([]);
  });

  it("explains collapsed sources once, in words, instead of the readiness line meant for logs", async () => {
    const source = fakeSource({
      collapsed: true,
      readiness: {
        ready: true,
        checks: { listening: true, store: true, notDraining: true },
        warnings: [
          "every recent game connection came from one source address: check that the load balancer keeps sources",
        ],
      },
    });
    const { warnings } = await snapshot(source);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: "source_collapsed", severity: "critical" });
    expect(warnings[0]?.title).toMatch(/every punch will fail/);
  });

  it("warns when the store is unreachable, and shows this node's store as down", async () => {
    const source = fakeSource({
      readiness: { ready: false, checks: { listening: true, store: false, notDraining: true } },
    });
    const result = await snapshot(source);
    expect(result.warnings.map((w) => w.code)).toEqual(["store_unreachable"]);
    expect(result.nodes[0]).toMatchObject({ nodeId: "node-a", self: true, storeUp: false });
  });

  it("shows per-node health only when a heartbeat carries it, and warns on a drain past its deadline", async () => {
    const source = fakeSource({
      nodes: [
        { nodeId: "node-a", startedAtMs: NOW - 1000, lastSeenMs: NOW, servers: 1 },
        {
          nodeId: "node-b",
          startedAtMs: NOW - 1000,
          lastSeenMs: NOW,
          servers: 3,
          ready: false,
          draining: true,
          drainDeadlineMs: NOW - 30_000,
          storeUp: true,
        },
        { nodeId: "node-c", startedAtMs: NOW - 1000, lastSeenMs: NOW, servers: 0 },
      ],
    });
    const result = await snapshot(source);
    const byId = Object.fromEntries(result.nodes.map((n) => [n.nodeId, n]));
    expect(byId["node-b"]).toMatchObject({
      draining: true,
      drainDeadlineMs: NOW - 30_000,
      ready: false,
    });
    expect(byId["node-c"]).toEqual({
      nodeId: "node-c",
      self: false,
      startedAtMs: NOW - 1000,
      lastSeenMs: NOW,
      servers: 0,
    });
    expect(result.warnings).toEqual([
      expect.objectContaining({
        code: "drain_overdue",
        title: "Node node-b is draining past its deadline",
        detail: expect.stringContaining("3 game server(s) over 30 s ago"),
      }),
    ]);
  });
});
