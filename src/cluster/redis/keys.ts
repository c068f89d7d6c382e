// Every Redis key and channel, under one prefix and one hash tag: on Redis
// Cluster they share a slot, so each multi-key script stays legal. The data
// set is small (a few hundred bytes per server), so one slot is no limit.
export class RedisKeys {
  private readonly base: string;

  constructor(prefix: string) {
    this.base = `{${prefix}}`;
  }

  /** HASH per registered server: u udp port, v version, d1..d8, c created, n node, o connection, r registered ms. */
  server(ip: string): string {
    return `${this.base}:server:${ip}`;
  }

  get serverPrefix(): string {
    return `${this.base}:server:`;
  }

  /** STRING: a server's UDP port from `reg`, waiting for its TCP registration. */
  pendingServerUdp(ip: string): string {
    return `${this.base}:pending:${ip}`;
  }

  /** ZSET ip → createdTime: the lobby's date index. */
  get serversByDate(): string {
    return `${this.base}:servers`;
  }

  /** ZSET ip → createdTime per data1 value (the game name by convention). */
  get byData1Prefix(): string {
    return `${this.base}:bydata1:`;
  }

  /** ZSET ip → lease expiry (ms): what a dead node leaves behind is pruned from here. */
  get leases(): string {
    return `${this.base}:leases`;
  }

  /** LIST of "port:ms" UDP `connect` endpoints behind one client IP, oldest first. */
  clientEndpoints(ip: string): string {
    return `${this.base}:client:${ip}`;
  }

  /** SET of node ids waiting for a UDP `connect` from this IP. */
  clientWaiters(ip: string): string {
    return `${this.base}:waiting:${ip}`;
  }

  /** ZSET node id → last heartbeat (ms), and HASH node id → JSON info. */
  get nodes(): string {
    return `${this.base}:nodes`;
  }

  get nodeInfo(): string {
    return `${this.base}:nodeinfo`;
  }

  /** Pub/sub channel of one node. */
  nodeChannel(nodeId: string): string {
    return `${this.base}:node:${nodeId}`;
  }

  get nodeChannelPrefix(): string {
    return `${this.base}:node:`;
  }
}
