// The cluster backend on Redis: registry, bus and node directory over one
// RedisConnection, chosen when REDIS_URL (or Sentinel/Cluster) is configured.
import type { Logger } from "pino";
import type { RedisTarget } from "../../config/index.js";
import type { MasterMetrics } from "../../metrics.js";
import type { StoreTimings } from "../timing.js";
import type { ClusterBackend, ClusterStatus } from "../types.js";
import { RedisKeys } from "./keys.js";
import { RedisBus } from "./redis-bus.js";
import { RedisConnection } from "./redis-connection.js";
import { RedisNodeDirectory } from "./redis-nodes.js";
import { ClientUdpWakeups, RedisRegistry } from "./redis-registry.js";

export interface RedisBackendOptions {
  target: RedisTarget;
  keyPrefix: string;
  nodeId: string;
  timings: StoreTimings;
  /** How long start() waits for Redis before carrying on not-ready (it keeps retrying). */
  connectTimeoutMs?: number;
}

export class RedisBackend implements ClusterBackend {
  readonly registry: RedisRegistry;
  readonly bus: RedisBus;
  readonly nodes: RedisNodeDirectory;
  private constructor(
    private readonly connection: RedisConnection,
    registry: RedisRegistry,
    bus: RedisBus,
    nodes: RedisNodeDirectory,
  ) {
    this.registry = registry;
    this.bus = bus;
    this.nodes = nodes;
  }

  static async start(
    options: RedisBackendOptions,
    metrics: MasterMetrics,
    logger: Logger,
  ): Promise<RedisBackend> {
    const log = logger.child({ component: "redis" });
    const connection = new RedisConnection(options.target, metrics, log);
    const keys = new RedisKeys(options.keyPrefix);
    const wakeups = new ClientUdpWakeups();
    const registry = new RedisRegistry(
      connection.commands,
      keys,
      {
        ...options.timings,
        nodeId: options.nodeId,
        publishCommand: connection.sharded ? "spublish" : "publish",
      },
      wakeups,
    );
    const bus = new RedisBus(connection, keys, options.nodeId, wakeups, metrics, log);
    const nodes = new RedisNodeDirectory(connection.commands, keys, options.timings.leaseMs);
    const backend = new RedisBackend(connection, registry, bus, nodes);
    const preload = () =>
      registry
        .preloadScripts()
        .catch((error: Error) => log.debug({ err: error.message }, "script preload failed"));
    connection.commands.on("ready", preload);
    const subscribed = bus.start(); // queued until the subscriber connects
    const ready = await connection.waitUntilReady(options.connectTimeoutMs ?? 5_000);
    if (ready) await Promise.all([subscribed, preload()]);
    else {
      subscribed.catch(() => undefined);
      log.warn("redis not reachable yet: starting not-ready, retrying in the background");
    }
    return backend;
  }

  status(): ClusterStatus {
    return { storeReachable: this.connection.reachable, mode: "redis" };
  }

  onStoreRecovered(handler: () => void): void {
    this.connection.on("recovered", handler);
  }

  async close(): Promise<void> {
    await this.bus.close();
    await this.registry.close();
    await this.connection.close();
  }
}
