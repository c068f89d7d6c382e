// The status page's view model: one JSON snapshot built from a StatusSource.
// Every IP is formatted here by the log-IP rule (the page never receives a
// raw IP in hash or truncate mode), and warnings are put in words.
import { createHmac, randomBytes } from "node:crypto";
import type { ServerRegistration } from "../../cluster/types.js";
import type { IpFormatter } from "../../logging.js";
import type { LobbyQuery, LobbySortDirection, LobbySortKey } from "../../protocol/index.js";
import type { RateHistory } from "./counter-history.js";
import type { NodeIdentity, NodeStatusInfo, StatusSource } from "./status-source.js";

/** What the page asks for besides the overview: its lobby view and, maybe, one server. */
export interface StatusQuery {
  /** data1..data8 exact-match filters ("" = none), as a game's lobby2 sends them. */
  filters: string[];
  sortBy: LobbySortKey;
  direction: LobbySortDirection;
  /** Rows of the lobby view (the total is counted before it). */
  limit: number;
  /** A `key` from an earlier snapshot's lobby rows. */
  serverKey: string | null;
}

export type WarningCode =
  | "source_collapsed"
  | "store_unreachable"
  | "drain_overdue"
  | "node_store_down"
  | "node_not_ready"
  | "self_draining"
  | "node_reported";

export interface StatusWarning {
  code: WarningCode;
  severity: "critical" | "warning";
  title: string;
  detail: string;
}

export interface NodeView
  extends Pick<NodeStatusInfo, "ready" | "draining" | "drainDeadlineMs" | "storeUp"> {
  nodeId: string;
  /** The node answering this request. */
  self: boolean;
  startedAtMs: number;
  lastSeenMs: number;
  servers: number;
}

export interface ServerView {
  /** Opaque and stable while this node runs: asks for the detail without sending an IP. */
  key: string;
  /** Formatted by the log-IP setting. */
  ip: string;
  udpPort: number | null;
  version: string;
  data: string[];
  createdTimeSec: number;
  ownerNodeId: string;
}

export interface ServerDetailView extends ServerView {
  /** Whether the owning node is among the live nodes (its heartbeat is recent). */
  ownerAlive: boolean;
}

export interface StatusSnapshot {
  generatedAtMs: number;
  node: NodeIdentity & { ready: boolean; checks: Record<string, boolean> };
  warnings: StatusWarning[];
  nodes: NodeView[];
  /** Every registered server; games counted among the newest `scanned` (the scan limit). */
  servers: { total: number; scanned: number; byGame: Array<{ game: string; servers: number }> };
  /** This node's counters only: other nodes keep their own. */
  mediation: RateHistory;
  lobby: { total: number; servers: ServerView[] };
  /** The server asked for by `serverKey`; null when none was asked or it is gone. */
  detail: ServerDetailView | null;
}

/** Opaque server keys: an HMAC under a per-process secret, so a key reveals nothing about the IP. */
export function serverKeyer(secret: Buffer = randomBytes(32)): (ip: string) => string {
  return (ip) => createHmac("sha256", secret).update(ip).digest("base64url").slice(0, 16);
}

const EMPTY_FILTERS = Array.from({ length: 8 }, () => "");

export async function buildStatusSnapshot(
  source: StatusSource,
  query: StatusQuery,
  formatIp: IpFormatter,
  keyOf: (ip: string) => string,
  nowMs: number = Date.now(),
): Promise<StatusSnapshot> {
  const { identity } = source;
  const readiness = source.readiness();
  // The same inversion as the mediator applies, so the page lists what a game gets.
  const direction: LobbySortDirection =
    identity.lobbyOrder === "reference"
      ? query.direction === "ASC"
        ? "DESC"
        : "ASC"
      : query.direction;
  const lobbyQuery: LobbyQuery = {
    filters: query.filters,
    sortBy: query.sortBy,
    sortDirection: direction,
    limit: null,
  };
  const [nodes, total, everyServer, lobby] = await Promise.all([
    source.listNodes(),
    source.countServers(),
    source.queryLobby({
      filters: EMPTY_FILTERS,
      sortBy: "date",
      sortDirection: "DESC",
      limit: null,
    }),
    source.queryLobby(lobbyQuery),
  ]);
  const nodeViews = nodes
    .map((info) => nodeView(info, identity.nodeId, readiness))
    .sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  const view = (server: ServerRegistration): ServerView => ({
    key: keyOf(server.ip),
    ip: formatIp(server.ip),
    udpPort: server.udpPort,
    version: server.version,
    data: server.data,
    createdTimeSec: server.createdTimeSec,
    ownerNodeId: server.ownerNodeId,
  });

  let detail: ServerDetailView | null = null;
  if (query.serverKey !== null) {
    const listed = everyServer.find((server) => keyOf(server.ip) === query.serverKey);
    const server = listed ? await source.findServer(listed.ip) : null;
    if (server)
      detail = {
        ...view(server),
        ownerAlive: nodes.some((node) => node.nodeId === server.ownerNodeId),
      };
  }

  return {
    generatedAtMs: nowMs,
    node: { ...identity, ready: readiness.ready, checks: readiness.checks },
    warnings: warningsFor(source, readiness, nodeViews, nowMs),
    nodes: nodeViews,
    servers: { total, scanned: everyServer.length, byGame: countByGame(everyServer) },
    mediation: source.rates(),
    lobby: { total: lobby.length, servers: lobby.slice(0, query.limit).map(view) },
    detail,
  };
}

function nodeView(
  info: NodeStatusInfo,
  selfId: string,
  readiness: ReturnType<StatusSource["readiness"]>,
): NodeView {
  const self = info.nodeId === selfId;
  const view: NodeView = {
    nodeId: info.nodeId,
    self,
    startedAtMs: info.startedAtMs,
    lastSeenMs: info.lastSeenMs,
    servers: info.servers,
  };
  // Copied only when present: a heartbeat without them says nothing either way.
  if (info.ready !== undefined) view.ready = info.ready;
  if (info.draining !== undefined) view.draining = info.draining;
  if (info.drainDeadlineMs !== undefined) view.drainDeadlineMs = info.drainDeadlineMs;
  if (info.storeUp !== undefined) view.storeUp = info.storeUp;
  // The answering node knows its own state now, fresher than its last heartbeat.
  if (self) {
    const { checks } = readiness;
    view.ready = readiness.ready;
    if (checks.store !== undefined) view.storeUp = checks.store;
    if (checks.notDraining !== undefined) view.draining = !checks.notDraining;
  }
  return view;
}

function countByGame(
  servers: readonly ServerRegistration[],
): Array<{ game: string; servers: number }> {
  const counts = new Map<string, number>();
  for (const server of servers) {
    const game = server.data[0] ?? "";
    counts.set(game, (counts.get(game) ?? 0) + 1);
  }
  return [...counts]
    .map(([game, count]) => ({ game, servers: count }))
    .sort((a, b) => b.servers - a.servers || a.game.localeCompare(b.game));
}

function seconds(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))} s`;
}

function warningsFor(
  source: StatusSource,
  readiness: ReturnType<StatusSource["readiness"]>,
  nodes: readonly NodeView[],
  nowMs: number,
): StatusWarning[] {
  const warnings: StatusWarning[] = [];
  const collapsed = source.sourceAddressCollapsed();
  if (collapsed)
    warnings.push({
      code: "source_collapsed",
      severity: "critical",
      title: "Source addresses collapsed: every punch will fail",
      detail:
        "All recent game connections came from one address. The load balancer (or NAT) in front of the master hides the players' real addresses, so the master hands out its address and no hole punch can work. Make it keep source addresses (see 'Source addresses by environment' in the README).",
    });
  if (readiness.checks.store === false)
    warnings.push({
      code: "store_unreachable",
      severity: "critical",
      title: "Store unreachable",
      detail:
        "This node cannot reach Redis: connects are answered -2, lobbies are empty and new registrations are refused until it is back.",
    });
  if (readiness.checks.notDraining === false)
    warnings.push({
      code: "self_draining",
      severity: "warning",
      title: "This node is draining",
      detail: "It accepts no new games and hands its game servers over to other nodes, then exits.",
    });
  for (const node of nodes) {
    if (node.draining && typeof node.drainDeadlineMs === "number" && nowMs > node.drainDeadlineMs)
      warnings.push({
        code: "drain_overdue",
        severity: "critical",
        title: `Node ${node.nodeId} is draining past its deadline`,
        detail: `It should have handed its ${node.servers} game server(s) over ${seconds(nowMs - node.drainDeadlineMs)} ago. It may be stuck: read its log, then stop it.`,
      });
    if (!node.self && node.storeUp === false)
      warnings.push({
        code: "node_store_down",
        severity: "critical",
        title: `Node ${node.nodeId} cannot reach the store`,
        detail: "Its connects are answered -2 and its games cannot register.",
      });
    if (!node.self && node.ready === false && !node.draining && node.storeUp !== false)
      warnings.push({
        code: "node_not_ready",
        severity: "warning",
        title: `Node ${node.nodeId} is not ready`,
        detail: "Its readiness check fails: the load balancer should send it no games.",
      });
  }
  for (const text of readiness.warnings ?? []) {
    // Readiness words the collapse for logs; it is already explained above.
    if (collapsed && /source address/i.test(text)) continue;
    warnings.push({
      code: "node_reported",
      severity: "warning",
      title: "The node reports",
      detail: text,
    });
  }
  return warnings;
}
