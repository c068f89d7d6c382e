// Time windows every store implementation honours; built once from config.
export interface StoreTimings {
  /** How long a UDP `reg` waits for the TCP registration from the same IP. */
  serverUdpBindWindowMs: number;
  /** How long a client's UDP `connect` endpoint stays claimable. */
  clientUdpTtlMs: number;
  /** Registrations not refreshed by their node for this long expire. */
  leaseMs: number;
}

/** Clients behind one public IP connecting at once; beyond this the oldest is dropped. */
export const MAX_CLIENT_ENDPOINTS_PER_IP = 64;
