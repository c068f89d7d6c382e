// The seam between the master's logic and its shared state. It speaks the
// domain (register a server, claim a client's UDP endpoint, book a server's
// reply, route a connect to the node owning the server's socket), so the
// Redis side can do each step as one atomic script and the memory side stays
// a few Maps.
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

/** One owned registration as its node names it: enough to keep it alive. */
export interface OwnedRef {
  ip: string;
  ownerConnectionId: string;
}

/**
 * A UDP `reg`: `bound` to a registration that overtook it, `pending` for the
 * registration that follows, or `conflict` when another port already claimed
 * that IP within the window (a forger, or a NAT that remapped).
 */
export type ServerUdpOutcome = "bound" | "pending" | "conflict";

export interface RegisterServerResult {
  /** Read it, never change it: a store may share it. */
  registration: Readonly<ServerRegistration>;
  /** The registration this one replaced (its socket must be closed), if any. */
  replaced: RegistrationOwner | null;
  /** Several different UDP ports claimed this IP within the bind window. */
  udpConflict: boolean;
}

/**
 * The first step of a TCP `connect`, in one atomic store step. `ready` has
 * booked the server's -1 on its owner's pacer and claimed the client's newest
 * UDP endpoint; `waiting`: no UDP `connect` came yet, so nothing is booked
 * (a connect that never sends one holds no slot of the server's backlog): the
 * next one from that IP is handed to this connect, booking the -1 then
 * (`awaitClientUdp`, which also takes a port handed just before it gave up,
 * so none is lost). `handover`: the server's socket was reset so it
 * re-registers elsewhere; wait for that. `busy`: the -1 would wait past the
 * backlog. A caller always awaits a `waiting` or `handover` lookup (that
 * releases it).
 */
/** The server as a lookup saw it: read it, never change it (a store may share it). */
type LookedUp = Readonly<ServerRegistration>;

/**
 * What a waiting connect is handed: its client's UDP port (the server's -1 is
 * booked), `busy` when the server's backlog had filled by the time the port
 * came (the port is used up all the same), or null when none came in time.
 */
export type HandedClientUdp = number | "busy" | null;

export type ConnectLookup =
  | { status: "not_found" }
  | { status: "server_udp_unknown"; server: LookedUp }
  | { status: "busy"; server: LookedUp }
  | {
      status: "handover";
      server: LookedUp;
      /** True once a new registration from the server's IP lands, false after the timeout. */
      awaitRegistration(timeoutMs: number): Promise<boolean>;
    }
  | { status: "ready"; server: LookedUp; clientUdpPort: number; ownerHeartbeatMs: number | null }
  | {
      status: "waiting";
      server: LookedUp;
      /** The owner node's last heartbeat (its own clock, ms); null where there is only one node. */
      ownerHeartbeatMs: number | null;
      /**
       * The client has a live endpoint too old to claim at once: it is what the
       * connect takes when it gives up, so the wait need not be long.
       */
      olderEndpoint: boolean;
      awaitClientUdp(timeoutMs: number): Promise<HandedClientUdp>;
    };

/** Bounds of one lobby query, so the store's work is bounded whatever the sort. */
export interface LobbyBounds {
  /** Servers examined at most (newest first; within data1 when filtered). */
  scanLimit: number;
  /** Stop once the reply would exceed this many bytes (estimated); null: no byte bound. */
  replyMaxBytes: number | null;
}

export type RefreshResult =
  | { outcome: "kept"; udpPort: number | null }
  /** Not in the store (Redis restarted empty): the owner restores it with its full data. */
  | { outcome: "missing" }
  | { outcome: "superseded" };

export type RestoreResult =
  | { outcome: "restored"; udpPort: number | null }
  | { outcome: "superseded" };

export interface Registry {
  recordServerUdp(ip: string, port: number): Promise<ServerUdpOutcome>;
  /** A TCP `reg`/`reg2`: registers (replacing any older one from the IP). */
  registerServer(input: RegisterServerInput): Promise<RegisterServerResult>;
  /** Removes the registration only if this connection still owns it. */
  unregisterServer(ip: string, ownerConnectionId: string): Promise<boolean>;
  findServer(ip: string): Promise<ServerRegistration | null>;
  /** A UDP `connect`: one more client endpoint behind `ip`, handed to a waiting connect if any. */
  recordClientUdp(ip: string, port: number): Promise<void>;
  /**
   * `waitedMs`: how long this connect has already waited (for a hand-over): an
   * endpoint recorded since then is as fresh as one sent just before it.
   */
  beginConnect(serverIp: string, clientIp: string, waitedMs?: number): Promise<ConnectLookup>;
  /** Marks a registration as being handed over (its socket was reset so the game re-registers). */
  markHandover(ip: string, ownerConnectionId: string): Promise<boolean>;
  /** Registrations matching the lobby query, filtered, sorted and limited within `bounds`. */
  queryLobby(query: LobbyQuery, bounds: LobbyBounds): Promise<ServerRegistration[]>;
  /** Registered servers in the whole store (for the cluster-wide gauge). */
  countServers(): Promise<number>;
  /** Keeps owned registrations alive (a few bytes each); reports the missing and the superseded. */
  refreshOwned(owned: readonly OwnedRef[]): Promise<RefreshResult[]>;
  /** Puts back registrations the store lost, with their full data. */
  restoreOwned(registrations: readonly ServerRegistration[]): Promise<RestoreResult[]>;
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
  /** Whether the node takes new traffic (listening, not draining). */
  ready?: boolean;
  draining?: boolean;
  /** When a draining node will exit at the latest (ms since the epoch). */
  drainDeadlineMs?: number | null;
  /** Whether the node reaches the store (Redis) itself. */
  storeUp?: boolean;
}

/** Live nodes of the cluster, by heartbeat. */
export interface NodeDirectory {
  heartbeat(info: NodeInfo): Promise<void>;
  list(): Promise<NodeInfo[]>;
  /** Whether the node heartbeated within `nodeAliveMs`. */
  isAlive(nodeId: string): Promise<boolean>;
  leave(nodeId: string): Promise<void>;
}

export interface ClusterStatus {
  /** False while the store cannot be reached (connects are answered -2 meanwhile). */
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
