// Creates the ioredis clients for a configured target (URL with password/TLS,
// Sentinel, or Cluster) and tracks reachability: commands fail fast while
// Redis is down (a client gets -2, not a hang) and ioredis reconnects with
// backoff; `recovered` fires when the store is reachable again.
import { EventEmitter } from "node:events";
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import type { RedisTarget } from "../../config/index.js";
import type { MasterMetrics } from "../../metrics.js";
import type { RedisClient } from "./redis-script.js";

const COMMAND_TIMEOUT_MS = 2_000;

const baseOptions: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: COMMAND_TIMEOUT_MS,
  retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 3_000),
  lazyConnect: false,
};

function createClient(target: RedisTarget, overrides: RedisOptions): RedisClient {
  const options = { ...baseOptions, ...overrides };
  switch (target.kind) {
    case "url":
      // A password given beside the URL (config refuses one given twice).
      return new Redis(target.url, { ...options, password: target.password ?? undefined });
    case "sentinel":
      return new Redis({
        ...options,
        sentinels: target.sentinels,
        name: target.name,
        password: target.password ?? undefined,
        sentinelPassword: target.password ?? undefined,
      });
    case "cluster":
      return new Cluster(target.nodes, {
        enableOfflineQueue: options.enableOfflineQueue,
        clusterRetryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 3_000),
        shardedSubscribers: overrides.enableOfflineQueue === true,
        redisOptions: { ...options, password: target.password ?? undefined },
      });
    default: {
      const unreachable: never = target;
      return unreachable;
    }
  }
}

export class RedisConnection extends EventEmitter {
  /** Commands: fail fast when disconnected. */
  readonly commands: RedisClient;
  /** Subscriptions: queued until connected, re-subscribed after reconnects. */
  readonly subscriber: RedisClient;
  private wasReady = false;
  private lostSinceReady = false;

  constructor(
    target: RedisTarget,
    private readonly metrics: MasterMetrics,
    private readonly logger: Logger,
  ) {
    super();
    this.commands = createClient(target, {});
    this.subscriber = createClient(target, {
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
    });
    this.watch(this.commands, "commands");
    this.watch(this.subscriber, "subscriber");
  }

  get reachable(): boolean {
    return this.commands.status === "ready" && this.subscriber.status === "ready";
  }

  /** Waits until both connections are ready, up to `timeoutMs`; resolves false on time-out. */
  waitUntilReady(timeoutMs: number): Promise<boolean> {
    if (this.reachable) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onReady = () => {
        if (!this.reachable) return;
        cleanup();
        resolve(true);
      };
      const timer = setTimeout(() => {
        cleanup();
        resolve(false);
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.commands.off("ready", onReady);
        this.subscriber.off("ready", onReady);
      };
      this.commands.on("ready", onReady);
      this.subscriber.on("ready", onReady);
    });
  }

  async close(): Promise<void> {
    // QUIT waits behind anything queued (a SUBSCRIBE queued while Redis was away would
    // hold it forever): give it a moment, then drop the connections regardless.
    const quits = Promise.allSettled([this.commands.quit(), this.subscriber.quit()]);
    await Promise.race([quits, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
    this.commands.disconnect();
    this.subscriber.disconnect();
  }

  private watch(client: RedisClient, role: string): void {
    client.on("error", (error: Error) => {
      this.metrics.redisErrors.inc();
      this.logger.warn({ role, err: error.message }, "redis error");
    });
    client.on("reconnecting", () => {
      this.metrics.redisReconnects.inc();
      this.lostSinceReady = true;
      this.metrics.storeReachable.set(0);
    });
    client.on("end", () => this.metrics.storeReachable.set(0));
    client.on("ready", () => {
      if (!this.reachable) return;
      this.metrics.storeReachable.set(1);
      if (this.wasReady && this.lostSinceReady) {
        this.logger.info("redis reachable again");
        this.emit("recovered");
      } else if (!this.wasReady) {
        this.logger.info("redis ready");
      }
      this.wasReady = true;
      this.lostSinceReady = false;
    });
  }
}
