// Live nodes by heartbeat: a ZSET of last-seen times and a HASH of details,
// both with a TTL refreshed by every heartbeat.
import { nodeAliveMs, nodeKeyTtlMs } from "../timing.js";
import type { NodeDirectory, NodeInfo } from "../types.js";
import type { RedisKeys } from "./keys.js";
import type { RedisClient } from "./redis-script.js";

export class RedisNodeDirectory implements NodeDirectory {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly leaseMs: number,
  ) {}

  async heartbeat(info: NodeInfo): Promise<void> {
    const ttlMs = nodeKeyTtlMs(this.leaseMs);
    await this.client
      .multi()
      .zadd(this.keys.nodes, info.lastSeenMs, info.nodeId)
      .hset(this.keys.nodeInfo, info.nodeId, JSON.stringify(info))
      .zremrangebyscore(this.keys.nodes, "-inf", info.lastSeenMs - ttlMs)
      .pexpire(this.keys.nodes, ttlMs)
      .pexpire(this.keys.nodeInfo, ttlMs)
      .exec();
  }

  async list(): Promise<NodeInfo[]> {
    const ids = await this.client.zrangebyscore(
      this.keys.nodes,
      Date.now() - nodeAliveMs(this.leaseMs),
      "+inf",
    );
    if (ids.length === 0) return [];
    const infos = await this.client.hmget(this.keys.nodeInfo, ...ids);
    const nodes: NodeInfo[] = [];
    for (const text of infos) {
      if (!text) continue;
      try {
        nodes.push(JSON.parse(text) as NodeInfo);
      } catch {
        // a malformed entry is skipped; its node rewrites it on the next beat
      }
    }
    return nodes.sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
  }

  async isAlive(nodeId: string): Promise<boolean> {
    const lastSeen = await this.client.zscore(this.keys.nodes, nodeId);
    return lastSeen !== null && Number(lastSeen) >= Date.now() - nodeAliveMs(this.leaseMs);
  }

  async leave(nodeId: string): Promise<void> {
    await this.client.multi().zrem(this.keys.nodes, nodeId).hdel(this.keys.nodeInfo, nodeId).exec();
  }
}
