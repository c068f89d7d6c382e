// Creates the ioredis clients for a configured target (URL with password/TLS,
// Sentinel, or Cluster) and tracks reachability: commands fail fast while
// Redis is down (a client gets -2, not a hang) and ioredis reconnects with
// backoff; `recovered` fires when the store is reachable again.
import { EventEmitter } from "node:events";
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import type { RedisTarget } from "../../config/index.js";
import type { MasterMetrics } from "../../metrics.js";
import { ThrottledLog } from "../../util/log-throttle.js";
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

/** Redis refused who we are (password, ACL user) or what we may do (ACL permissions). */
export function credentialProblem(error: Error): "credentials" | "permissions" | null {
  const text = error.message;
  if (/^NOPERM\b/.test(text)) return "permissions";
  if (/^(NOAUTH|WRONGPASS)\b|ERR invalid password|ERR AUTH|invalid username-password/.test(text))
    return "credentials";
  return null;
}

/** How a start-up wait for Redis ended. */
export type ReadyState =
  | "ready"
  | "timeout"
  | { refused: "credentials" | "permissions"; error: Error };

export class RedisConnection extends EventEmitter {
  /** Commands: fail fast when disconnected. */
  readonly commands: RedisClient;
  /** Subscriptions: queued until connected, re-subscribed after reconnects. */
  readonly subscriber: RedisClient;
  private wasReady = false;
  private lostSinceReady = false;
  /** Errors repeat at every reconnect while Redis is away: one line a second per kind. */
  private readonly log: ThrottledLog;
  /** The last refusal of our credentials or permissions, while it lasts. */
  private refusal: { refused: "credentials" | "permissions"; error: Error } | null = null;

  constructor(
    target: RedisTarget,
    private readonly metrics: MasterMetrics,
    private readonly logger: Logger,
  ) {
    super();
    this.log = new ThrottledLog(logger);
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

  /**
   * Waits until both connections are ready, up to `timeoutMs`; a refusal of
   * our credentials or permissions ends the wait at once (it will not heal).
   */
  waitUntilReady(timeoutMs: number): Promise<ReadyState> {
    if (this.reachable) return Promise.resolve("ready");
    if (this.refusal) return Promise.resolve(this.refusal);
    return new Promise((resolve) => {
      const onReady = () => {
        if (!this.reachable) return;
        cleanup();
        resolve("ready");
      };
      const onRefused = (refusal: { refused: "credentials" | "permissions"; error: Error }) => {
        cleanup();
        resolve(refusal);
      };
      const timer = setTimeout(() => {
        cleanup();
        resolve("timeout");
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.commands.off("ready", onReady);
        this.subscriber.off("ready", onReady);
        this.off("refused", onRefused);
      };
      this.commands.on("ready", onReady);
      this.subscriber.on("ready", onReady);
      this.on("refused", onRefused);
    });
  }

  get currentRefusal(): { refused: "credentials" | "permissions"; error: Error } | null {
    return this.refusal;
  }

  /** A refusal seen by a command (an ACL denying EVALSHA, say) counts like one at connect. */
  noteCommandError(error: Error): void {
    const refused = credentialProblem(error);
    if (refused) this.refuse(refused, error);
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
      const refused = credentialProblem(error);
      if (refused) this.refuse(refused, error);
      this.log.warn(
        { role, err: error },
        "redis error",
        `redis error:${role}:${refused ?? "other"}`,
      );
    });
    client.on("reconnecting", () => {
      this.metrics.redisReconnects.inc();
      this.lostSinceReady = true;
      this.metrics.storeReachable.set(0);
    });
    client.on("end", () => this.metrics.storeReachable.set(0));
    client.on("ready", () => {
      this.refusal = null;
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

  private refuse(refused: "credentials" | "permissions", error: Error): void {
    this.refusal = { refused, error };
    this.emit("refused", this.refusal);
  }
}
