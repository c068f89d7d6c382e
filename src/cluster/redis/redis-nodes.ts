// Live nodes by heartbeat: a ZSET of last-seen times and a HASH of details,
// both with a TTL refreshed by every heartbeat, which also drops the nodes
// whose heartbeat expired from both (one script, so the two never disagree).
import { nodeAliveMs, nodeKeyTtlMs } from "../timing.js";
import type { NodeDirectory, NodeInfo } from "../types.js";
import type { RedisKeys } from "./keys.js";
import { type RedisClient, RedisScript } from "./redis-script.js";

/** Dead nodes one heartbeat forgets at most: the script stays short; the next beats go on. */
const PRUNED_PER_HEARTBEAT = 100;

const heartbeatScript = new RedisScript("heartbeat", (raw) => Number(raw));

export class RedisNodeDirectory implements NodeDirectory {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly leaseMs: number,
  ) {}

  /** Loads the heartbeat script into Redis (on each (re)connect, with the registry's). */
  async preloadScripts(): Promise<void> {
    await heartbeatScript.preload(this.client);
  }

  async heartbeat(info: NodeInfo): Promise<void> {
    await heartbeatScript.run(
      this.client,
      [this.keys.nodes, this.keys.nodeInfo],
      [
        info.nodeId,
        info.lastSeenMs,
        JSON.stringify(info),
        nodeKeyTtlMs(this.leaseMs),
        PRUNED_PER_HEARTBEAT,
      ],
    );
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
