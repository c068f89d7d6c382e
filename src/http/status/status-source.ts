// What the status page needs from a node, as one interface: the page's
// routes and view model see only this, so they stay testable with a fake and
// know nothing of listeners, stores or timers.
import type { NodeInfo, ServerRegistration } from "../../cluster/types.js";
import type { LobbyOrder, LogIpMode } from "../../config/index.js";
import type { LobbyQuery } from "../../protocol/index.js";
import type { RateHistory } from "./counter-history.js";

/** A node as the status page shows it: its heartbeat (health fields optional: older nodes lack them). */
export type NodeStatusInfo = NodeInfo;

/** Facts about the answering node that do not change while it runs. */
export interface NodeIdentity {
  nodeId: string;
  version: string;
  storeMode: "memory" | "redis";
  /** How IPs reach the page: the same rule as the logs. */
  logIp: LogIpMode;
  /** The lobby's sort convention, so the page's lobby matches what games receive. */
  lobbyOrder: LobbyOrder;
  /** Whether the admin API asks for a token (else it answers loopback clients only). */
  tokenRequired: boolean;
}

/** The node's readiness as /readyz answers it (declared here so this folder imports nothing above it). */
export interface StatusReadiness {
  ready: boolean;
  checks: Record<string, boolean>;
  warnings?: string[];
}

export interface StatusSource {
  readonly identity: NodeIdentity;
  /** The same answer as /readyz. */
  readiness(): StatusReadiness;
  /** True while every recent game connection came from one address (a balancer hiding sources). */
  sourceAddressCollapsed(): boolean;
  /** Live nodes of the cluster by heartbeat. */
  listNodes(): Promise<NodeStatusInfo[]>;
  /** The store's lobby query within the node's scan limit, without a game reply's byte cap. */
  queryLobby(query: LobbyQuery): Promise<ServerRegistration[]>;
  /** Registered servers in the whole store. */
  countServers(): Promise<number>;
  findServer(ip: string): Promise<ServerRegistration | null>;
  /** This node's counters over the last minutes, as rates per second. */
  rates(): RateHistory;
}
