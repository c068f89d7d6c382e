// Every time window of the shared state, derived once from the configuration:
// a store implementation, the refresh loop and the node directory all read
// them from here, so "alive" means one thing everywhere.
export interface StoreTimings {
  /** How long a UDP `reg` waits for the TCP registration from the same IP. */
  serverUdpBindWindowMs: number;
  /** How long a client's UDP `connect` endpoint stays claimable. */
  clientUdpTtlMs: number;
  /** A connect claims at once only an endpoint this recent (CLIENT_UDP_FRESH_MS). */
  clientUdpFreshMs: number;
  /** Registrations not refreshed by their node for this long expire. */
  leaseMs: number;
  /** Minimum gap between two replies on one socket (the owner's pacer). */
  replyGapMs: number;
  /** How far ahead a game server's -1 replies may be booked (backlog × gap). */
  serverReplyBacklogMs: number;
  /** Sources (client or server IPs with UDP endpoints) held at once in memory. */
  maxTrackedSources: number;
  /** How long a connect waits for a handed-over server to register again (handoverWaitMs). */
  handoverWaitMs: number;
}

export function storeTimings(config: {
  serverUdpBindWindowMs: number;
  clientUdpTtlMs: number;
  leaseMs: number;
  replyGapMs: number;
  serverReplyBacklog: number;
  maxTrackedSources: number;
  handoverLeadMs: number;
}): StoreTimings {
  return {
    serverUdpBindWindowMs: config.serverUdpBindWindowMs,
    clientUdpTtlMs: config.clientUdpTtlMs,
    clientUdpFreshMs: Math.min(CLIENT_UDP_FRESH_MS, config.clientUdpTtlMs),
    leaseMs: config.leaseMs,
    replyGapMs: config.replyGapMs,
    serverReplyBacklogMs: config.serverReplyBacklog * config.replyGapMs,
    maxTrackedSources: config.maxTrackedSources,
    handoverWaitMs: handoverWaitMs(config.handoverLeadMs),
  };
}

/** How often a node refreshes its registrations and heartbeat: three times a lease. */
export function refreshIntervalMs(leaseMs: number): number {
  return Math.max(250, Math.floor(leaseMs / 3));
}

/** Keys a node keeps alive (server hashes, indexes) outlive a missed refresh: two leases. */
export function keyTtlMs(leaseMs: number): number {
  return leaseMs * 2;
}

/**
 * A node is alive while its last heartbeat is younger than two leases (heartbeats
 * carry the node's own clock: the margin keeps clock skew from killing a live node).
 */
export function nodeAliveMs(leaseMs: number): number {
  return leaseMs * 2;
}

/**
 * A routed -1 needs the owner's process: one whose heartbeat is older than two
 * refreshes is frozen or cut off (its Redis subscription may still count as a
 * receiver until Redis' TCP gives up), so it is not sent a -1 it cannot deliver.
 */
export function heartbeatStaleMs(leaseMs: number): number {
  return 2 * refreshIntervalMs(leaseMs);
}

/** The node directory's own keys outlive every alive node. */
export function nodeKeyTtlMs(leaseMs: number): number {
  return leaseMs * 4;
}

/**
 * A connect claims at once only a client UDP endpoint this recent: the game
 * sends its UDP `connect` one TCP handshake before its TCP `connect`. An older
 * one (a forger's, sent earlier from the client's address) is claimed only if
 * no fresher datagram comes while the connect waits, so a lone forged
 * datagram cannot win the pairing when the TCP connect overtakes the client's
 * own UDP. That wait is this long too (not clientUdpWaitMs): the game's own
 * datagram lands within it, and a node too busy to read a connect within a
 * second does not hold its players for the whole UDP wait.
 */
export const CLIENT_UDP_FRESH_MS = 1_000;

/** Clients behind one public IP connecting at once; beyond this the oldest is dropped. */
export const MAX_CLIENT_ENDPOINTS_PER_IP = 64;

/** Distinct UDP `reg` ports remembered per server IP within the bind window (conflicts). */
export const MAX_PENDING_SERVER_PORTS = 4;

/**
 * How long a connect waits for a handed-over server to register again: the
 * lead before its ping, plus the game's re-registration (the GML connects with
 * a 4 s timeout) and the balancer's path.
 */
export function handoverWaitMs(handoverLeadMs: number): number {
  return handoverLeadMs + 5_000;
}
