// A running node's StatusSource: its readiness, the cluster's nodes and
// registry as they are, and the sampler of its own counters (which this
// owns: close() stops it with the node).
import type { ClusterBackend } from "../../cluster/types.js";
import type { MasterConfig } from "../../config/index.js";
import type { MasterMetrics } from "../../metrics.js";
import { masterCounterHistory } from "./counter-history.js";
import type { StatusReadiness, StatusSource } from "./status-source.js";

export interface NodeStatusParts {
  config: Pick<MasterConfig, "nodeId" | "logIp" | "lobbyOrder" | "adminToken" | "lobbyScanLimit">;
  backend: Pick<ClusterBackend, "registry" | "nodes" | "status">;
  metrics: MasterMetrics;
  version: string;
  readiness: () => StatusReadiness;
  sourceAddressCollapsed: () => boolean;
}

export interface NodeStatus {
  readonly source: StatusSource;
  close(): void;
}

/** Starts sampling the node's counters at once, so the charts have history when first opened. */
export function createNodeStatus(parts: NodeStatusParts): NodeStatus {
  const { config, backend } = parts;
  const history = masterCounterHistory(parts.metrics);
  history.start();
  const source: StatusSource = {
    identity: {
      nodeId: config.nodeId,
      version: parts.version,
      storeMode: backend.status().mode,
      logIp: config.logIp,
      lobbyOrder: config.lobbyOrder,
      tokenRequired: config.adminToken !== null,
    },
    readiness: parts.readiness,
    sourceAddressCollapsed: parts.sourceAddressCollapsed,
    listNodes: () => backend.nodes.list(),
    // The rows a game's lobby2 would choose from (its reply keeps what fits its byte cap).
    queryLobby: (query) =>
      backend.registry.queryLobby(query, { scanLimit: config.lobbyScanLimit, replyMaxBytes: null }),
    countServers: () => backend.registry.countServers(),
    findServer: (ip) => backend.registry.findServer(ip),
    rates: () => history.rates(),
  };
  return { source, close: () => history.close() };
}
