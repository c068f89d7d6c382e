// The seam between the master's logic and its shared state. It speaks the
// domain (register a server, claim a client's UDP endpoint, route a connect to
// the node owning the server's socket), so the Redis side can do each step as
// one atomic script and the memory side stays a few Maps.
import type { LobbyQuery } from "../protocol/index.js";

/** A game server as the cluster knows it, keyed by its public IP. */
export interface ServerRegistration {
  ip: string;
  /** Public UDP port learned from the server's UDP `reg`; null until one is bound. */
  udpPort: number | null;
  /** "" for a classic PUNCH `reg`. */
  version: string;
  /** data1..data8 (all "" for a classic `reg`). */
  data: string[];
  createdTimeSec: number;
  ownerNodeId: string;
  /** Unique per TCP connection, so a stale close cannot remove a newer registration. */
  ownerConnectionId: string;
}

export interface RegisterServerInput {
  ip: string;
  version: string;
  data: string[];
  ownerNodeId: string;
  ownerConnectionId: string;
}

export interface RegistrationOwner {
  ownerNodeId: string;
  ownerConnectionId: string;
}

export interface RegisterServerResult {
  registration: ServerRegistration;
  /** The registration this one replaced (its socket must be closed), if any. */
  replaced: RegistrationOwner | null;
}

export interface ConnectLookup {
  server: ServerRegistration | null;
  /** The client's UDP port, claimed (one use) only when the server was found. */
  clientUdpPort: number | null;
}

/** Outcome of keeping an owned registration alive. */
export type RefreshOutcome = "kept" | "restored" | "superseded";

export interface RefreshResult {
  outcome: RefreshOutcome;
  /** The store's UDP port for it (a UDP `reg` may have bound after the TCP one). */
  udpPort: number | null;
}

export interface Registry {
  /** A UDP `reg`: a candidate endpoint, bound only by a TCP registration from the same IP. */
  recordServerUdp(ip: string, port: number): Promise<void>;
  /** A TCP `reg`/`reg2`: registers (replacing any older one from the IP). */
  registerServer(input: RegisterServerInput): Promise<RegisterServerResult>;
  /** Removes the registration only if this connection still owns it. */
  unregisterServer(ip: string, ownerConnectionId: string): Promise<boolean>;
  findServer(ip: string): Promise<ServerRegistration | null>;
  /** A UDP `connect`: one more client endpoint behind `ip` (several may wait at once). */
  recordClientUdp(ip: string, port: number): Promise<void>;
  /** The first step of a TCP `connect`: find the server and claim the client's oldest endpoint. */
  beginConnect(serverIp: string, clientIp: string): Promise<ConnectLookup>;
  /** Waits up to `timeoutMs` for a UDP `connect` from `clientIp` and claims it. */
  awaitClientUdp(clientIp: string, timeoutMs: number): Promise<number | null>;
  /** Every registration matching the lobby query, filtered, sorted and limited. */
  queryLobby(query: LobbyQuery): Promise<ServerRegistration[]>;
  /** Registered servers in the whole store (for the cluster-wide gauge). */
  countServers(): Promise<number>;
  /** Keeps owned registrations alive, restoring any the store lost. */
  refreshOwned(registrations: readonly ServerRegistration[]): Promise<RefreshResult[]>;
  close(): Promise<void>;
}

/** "Send this game server its `-1`": routed to the node holding its socket. */
export interface PeerFoundMessage {
  type: "peer-found";
  serverIp: string;
  ownerConnectionId: string;
  clientIp: string;
  clientUdpPort: number;
}

/** "Close this socket: a newer registration from its IP took over." */
export interface SupersededMessage {
  type: "superseded";
  serverIp: string;
  ownerConnectionId: string;
}

export type NodeMessage = PeerFoundMessage | SupersededMessage;

export interface Bus {
  /** Delivers to the node's handler; resolves false when no such node is listening. */
  send(nodeId: string, message: NodeMessage): Promise<boolean>;
  onMessage(handler: (message: NodeMessage) => void): void;
  close(): Promise<void>;
}

export interface NodeInfo {
  nodeId: string;
  startedAtMs: number;
  lastSeenMs: number;
  servers: number;
}

/** Live nodes of the cluster, by heartbeat. */
export interface NodeDirectory {
  heartbeat(info: NodeInfo): Promise<void>;
  list(): Promise<NodeInfo[]>;
  /** Whether the node heartbeated within the last lease. */
  isAlive(nodeId: string): Promise<boolean>;
  leave(nodeId: string): Promise<void>;
}

export interface ClusterStatus {
  /** False while the store cannot be reached; the node is then not ready. */
  storeReachable: boolean;
  mode: "memory" | "redis";
}

/** Everything a node shares with its peers, behind one object chosen at start. */
export interface ClusterBackend {
  readonly registry: Registry;
  readonly bus: Bus;
  readonly nodes: NodeDirectory;
  status(): ClusterStatus;
  /** Called after the store comes back (e.g. Redis restarted empty) so the node re-asserts. */
  onStoreRecovered(handler: () => void): void;
  close(): Promise<void>;
}
