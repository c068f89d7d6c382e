// A benchmark cluster: memory (one node), Redis with one node, or Redis with
// three nodes, started as child processes, with a fleet of game servers
// registered and confirmed through the admin API.
import { ReadinessBalancer } from "./balancer.js";
import type { ServerFleet, Target } from "./load.js";
import { BenchNode, BenchRedis, type NodeSpawnOptions, until } from "./procs.js";

export type Mode = "memory" | "redis1" | "redis3";
export const MODES: readonly Mode[] = ["memory", "redis1", "redis3"];

export interface ClusterOptions {
  mode: Mode;
  replyGapMs: number;
  logLevel: string;
  cpuProfileDir: string | null;
  fdLimit: number;
  idleTimeoutMs?: number;
  nodeOverrides?: Partial<NodeSpawnOptions>;
}

export class BenchCluster {
  private constructor(
    readonly mode: Mode,
    readonly redis: BenchRedis | null,
    readonly nodes: BenchNode[],
  ) {}

  static async start(options: ClusterOptions): Promise<BenchCluster> {
    const redis = options.mode === "memory" ? null : await BenchRedis.start();
    const count = options.mode === "redis3" ? 3 : 1;
    const nodes: BenchNode[] = [];
    try {
      for (let i = 0; i < count; i++) {
        nodes.push(
          await BenchNode.spawn({
            nodeId: `bench-${options.mode}-${String.fromCharCode(97 + i)}`,
            redisUrl: redis?.url ?? null,
            replyGapMs: options.replyGapMs,
            logLevel: options.logLevel,
            cpuProfileDir: options.cpuProfileDir,
            fdLimit: options.fdLimit,
            idleTimeoutMs: options.idleTimeoutMs,
            ...options.nodeOverrides,
          }),
        );
      }
    } catch (error) {
      for (const node of nodes) await node.stop("SIGKILL");
      await redis?.kill();
      throw error;
    }
    return new BenchCluster(options.mode, redis, nodes);
  }

  get targets(): Target[] {
    return this.nodes.map((n) => ({ host: n.host, port: n.port }));
  }

  /** A balancer over these nodes, polling their /readyz every `pollMs` (call start()). */
  balancer(pollMs = 200): ReadinessBalancer {
    return new ReadinessBalancer(
      this.nodes.map((node) => ({
        target: { host: node.host, port: node.port },
        readyUrl: `${node.httpUrl}/readyz`,
      })),
      pollMs,
    );
  }

  /** CPU seconds used by the nodes (and Redis) so far. */
  async cpuSeconds(): Promise<{ nodes: number; redis: number }> {
    const nodes = this.nodes.reduce((sum, n) => sum + n.cpuSeconds(), 0);
    return { nodes, redis: this.redis ? await this.redis.cpuSeconds() : 0 };
  }

  /**
   * Waits until every server of the fleet is registered with its UDP port, as
   * the master reports it (admin API; the nodes of one store all see all).
   */
  async confirmRegistered(fleet: ServerFleet, timeoutMs = 60_000): Promise<number> {
    const expected = new Map(fleet.servers.map((s) => [s.ip, s.udpPort]));
    const pageSize = 1000;
    const bad: string[] = [];
    await until(
      async () => {
        let matched = 0;
        bad.length = 0;
        // Memory mode: each node knows only its own servers; Redis: any running node sees all.
        const anyRunning = this.nodes.find((n) => n.running);
        const askNodes = this.redis ? (anyRunning ? [anyRunning] : []) : this.nodes;
        for (const node of askNodes) {
          if (!node.running) continue;
          for (let offset = 0; offset < expected.size + pageSize; offset += pageSize) {
            const page = await node.adminServers(fleet.options.tag, offset, pageSize);
            for (const s of page.servers) {
              if (expected.get(s.ip) === s.udpPort) matched++;
              else if (bad.length < 5) bad.push(`${s.ip}:${s.udpPort}`);
            }
            if (page.servers.length < pageSize) break;
          }
        }
        return matched >= expected.size ? matched : false;
      },
      timeoutMs,
      `all ${expected.size} servers registered (mismatches: ${bad.join(",")})`,
      200,
    );
    return expected.size;
  }

  async stop(): Promise<void> {
    for (const node of this.nodes) await node.stop("SIGTERM");
    await this.redis?.kill();
  }
}
