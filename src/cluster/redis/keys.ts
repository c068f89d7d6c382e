// Every Redis key and channel, under one prefix and one hash tag: on Redis
// Cluster they share a slot, so each multi-key script stays legal (see the
// README's capacity notes for when one slot stops being enough).
export class RedisKeys {
  private readonly base: string;

  constructor(prefix: string) {
    this.base = `{${prefix}}`;
  }

  /** HASH per registered server; its fields are described in server-hash.ts. */
  server(ip: string): string {
    return `${this.base}:server:${ip}`;
  }

  get serverPrefix(): string {
    return `${this.base}:server:`;
  }

  /** ZSET port → ms: a server's UDP `reg` ports waiting for its TCP registration. */
  pendingServerPorts(ip: string): string {
    return `${this.base}:pendingports:${ip}`;
  }

  /** SET of node ids waiting for this server's next registration (a hand-over). */
  serverWaiters(ip: string): string {
    return `${this.base}:serverwaiters:${ip}`;
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

  /** LIST of connects waiting for a UDP `connect` from this IP (`waitingConnect`), oldest first. */
  waitingConnects(ip: string): string {
    return `${this.base}:waiters:${ip}`;
  }

  /**
   * One entry of `waitingConnects`: the node to wake, its waiter, and the
   * server whose -1 the client's UDP `connect` books (record-client-udp.lua
   * splits it at the last two "|").
   */
  waitingConnect(nodeId: string, waiterId: string, serverIp: string): string {
    return `${nodeId}|${waiterId}|${serverIp}`;
  }

  /** STRING: what was handed to one waiting connect (its entry): a port or "busy", until claimed. */
  get handedPortPrefix(): string {
    return `${this.base}:handed:`;
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
