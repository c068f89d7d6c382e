// The cluster backend on Redis: registry, bus and node directory over one
// RedisConnection, chosen when REDIS_URL (or Sentinel/Cluster) is configured.
import type { Logger } from "pino";
import type { RedisTarget } from "../../config/index.js";
import type { BadInputLog } from "../../bad-input-log.js";
import { StartupError } from "../../errors.js";
import type { MasterMetrics } from "../../metrics.js";
import type { StoreTimings } from "../timing.js";
import type { ClusterBackend, ClusterStatus } from "../types.js";
import { RedisKeys } from "./keys.js";
import { RedisBus } from "./redis-bus.js";
import { RedisConnection } from "./redis-connection.js";
import { RedisNodeDirectory } from "./redis-nodes.js";
import { ClassicPubSub } from "./pubsub-classic.js";
import type { PubSub } from "./pubsub.js";
import { ShardedPubSub } from "./pubsub-sharded.js";
import { RedisRegistry } from "./redis-registry.js";
import { StoreWakeups } from "./store-wakeups.js";

/** How long start() waits for the node's channel subscription while Redis answers. */
const SUBSCRIBE_AT_START_MS = 30_000;

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
    badInput: BadInputLog,
  ): Promise<RedisBackend> {
    const log = logger.child({ component: "redis" });
    const connection = new RedisConnection(options.target, metrics, log);
    const keys = new RedisKeys(options.keyPrefix);
    const wakeups = new StoreWakeups();
    // The pub/sub flavour, chosen once: sharded on Redis Cluster, where a
    // classic PUBLISH's receiver count covers only one shard.
    const pubsub: PubSub =
      options.target.kind === "cluster"
        ? new ShardedPubSub(connection.commands, connection.subscriber)
        : new ClassicPubSub(connection.commands, connection.subscriber);
    const registry = new RedisRegistry(
      connection.commands,
      keys,
      { ...options.timings, nodeId: options.nodeId },
      pubsub,
      wakeups,
    );
    const bus = new RedisBus(pubsub, keys, options.nodeId, wakeups, badInput, log);
    const nodes = new RedisNodeDirectory(connection.commands, keys, options.timings.leaseMs);
    const backend = new RedisBackend(connection, registry, bus, nodes);
    const preload = () =>
      Promise.all([registry.preloadScripts(), nodes.preloadScripts()]).catch((error: Error) => {
        connection.noteCommandError(error);
        log.debug({ err: error }, "script preload failed");
      });
    connection.commands.on("ready", preload);
    const subscribed = subscribeUntilDone(
      bus,
      log,
      (error: Error) => connection.noteCommandError(error),
      () => backend.closed || connection.currentRefusal !== null,
    );
    const state = await connection.waitUntilReady(options.connectTimeoutMs ?? 5_000);
    if (state === "ready") {
      // A node must hear its channel before it takes games (else their routed -1s are
      // lost): with Redis reachable, start waits for the subscription, which on a busy
      // Redis Cluster can take a few seconds; bounded all the same, then it retries on.
      await Promise.all([withinMs(subscribed, SUBSCRIBE_AT_START_MS), preload()]);
    } else if (state === "timeout") {
      log.warn("redis not reachable yet: answering -2 meanwhile, retrying in the background");
    }
    // Refused credentials or permissions do not heal by retrying: stop, naming the option.
    const refusal = typeof state === "object" ? state : connection.currentRefusal;
    if (refusal) {
      await backend.close();
      throw refusedError(options.target, options.keyPrefix, refusal.refused, refusal.error);
    }
    return backend;
  }

  status(): ClusterStatus {
    return { storeReachable: this.connection.reachable, mode: "redis" };
  }

  onStoreRecovered(handler: () => void): void {
    this.connection.on("recovered", handler);
  }

  closed = false;

  async close(): Promise<void> {
    this.closed = true;
    await this.bus.close();
    await this.registry.close();
    await this.connection.close();
  }
}

/**
 * Subscribes the node's channel, retrying until it takes: a Redis Cluster
 * refuses a sharded subscription until it knows its slots, and a Redis that
 * is away refuses everything. A refusal of our credentials or permissions
 * stops it (retrying would not help).
 */
async function subscribeUntilDone(
  bus: RedisBus,
  log: Logger,
  noteError: (error: Error) => void,
  stop: () => boolean,
): Promise<void> {
  for (let attempt = 0; !stop(); attempt++) {
    try {
      await bus.start();
      return;
    } catch (error) {
      noteError(error as Error);
      // One warning once it is clearly not a start-up race: routed -1s cannot reach this node.
      if (attempt === 5)
        log.warn({ err: error }, "cannot subscribe the node's channel yet; retrying");
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(2_000, 100 * 2 ** attempt)).unref(),
      );
    }
  }
}

function withinMs(work: Promise<unknown>, ms: number): Promise<unknown> {
  return Promise.race([work, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
}

/** One line naming what to fix, for a node Redis refused at start. */
function refusedError(
  target: RedisTarget,
  keyPrefix: string,
  refused: "credentials" | "permissions",
  error: Error,
): StartupError {
  if (refused === "credentials") {
    const where =
      target.kind === "url"
        ? "the password in REDIS_URL (redis://user:password@host) or GMNET_REDIS_PASSWORD"
        : "GMNET_REDIS_PASSWORD";
    return new StartupError(
      "store_credentials",
      `Redis refused the node's credentials (${error.message}): check ${where}`,
    );
  }
  return new StartupError(
    "store_permissions",
    `the Redis user may not run what the node needs (${error.message}): its ACL needs +@scripting +@pubsub +@read +@write +@keyspace +@connection on keys ~{${keyPrefix}}:* and channels &{${keyPrefix}}:* (the user comes from REDIS_URL)`,
  );
}
