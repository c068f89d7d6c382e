// The lobby as games get it: identical queries within `lobbyCacheMs` share
// one store query and one encoded reply (the same Buffer goes to every
// socket, so a hundred slow readers hold one copy), the store's work is
// bounded by the scan limit, and the reply by the byte cap a game can read.
// Filters are the requester's choice, so the cache alone does not bound the
// store's work: a node-wide budget of store queries does, whatever the number
// of sources. Past it, a query gets the last answer to the same query (however
// old: a game's own lobby query is usually one everyone asks) or an empty list.
import type { Logger } from "pino";
import type { Registry } from "../cluster/types.js";
import type { LobbyOrder } from "../config/index.js";
import type { MasterMetrics } from "../metrics.js";
import { encodeLobby, encodeLobbyWithin, type LobbyQuery } from "../protocol/index.js";
import { TokenBucket } from "../transport/token-buckets.js";
import { GenerationalMap } from "../util/generational-map.js";
import { ThrottledLog } from "../util/log-throttle.js";
import { type Clock, monotonicMs } from "../util/monotonic.js";

/** An encoded reply and how it went (a cached answer counts the same result again). */
interface LobbyAnswer {
  reply: Buffer;
  result: "ok" | "truncated" | "store_error" | "stale" | "shed";
}

/** Over the store budget with nothing cached for the query. */
const SHED: LobbyAnswer = { reply: encodeLobby([]), result: "shed" };

/** A cached answer and when its store query started. */
interface CachedAnswer {
  answer: Promise<LobbyAnswer>;
  atMs: number;
}

/** Distinct queries cached at once (each is a few hundred bytes to a reply's size). */
const MAX_CACHED_QUERIES = 256;

export interface LobbyServiceOptions {
  lobbyCacheMs: number;
  lobbyScanLimit: number;
  lobbyReplyMaxBytes: number;
  lobbyOrder: LobbyOrder;
  lobbyStoreRate: number;
}

export class LobbyService {
  private readonly cache = new GenerationalMap<string, CachedAnswer>(MAX_CACHED_QUERIES);
  private readonly log: ThrottledLog;
  private readonly storeBudget: TokenBucket;

  constructor(
    private readonly registry: Registry,
    private readonly options: LobbyServiceOptions,
    private readonly metrics: MasterMetrics,
    logger: Logger,
    private readonly now: Clock = monotonicMs,
  ) {
    this.log = new ThrottledLog(logger);
    this.storeBudget = new TokenBucket(options.lobbyStoreRate, now);
  }

  /** The encoded `-7` reply for `query` (an empty list when the store cannot answer). */
  async reply(query: LobbyQuery): Promise<Buffer> {
    // The reference master's DESC is inverted: offered behind an option.
    const effective: LobbyQuery =
      this.options.lobbyOrder === "reference"
        ? { ...query, sortDirection: query.sortDirection === "ASC" ? "DESC" : "ASC" }
        : query;
    const key = JSON.stringify(effective);
    const nowMs = this.now();
    const cached = this.cache.get(key);
    const hit = cached !== undefined && nowMs - cached.atMs < this.options.lobbyCacheMs;
    let answer: Promise<LobbyAnswer>;
    if (hit) {
      this.metrics.lobbyCache.inc({ result: "hit" });
      answer = cached.answer;
    } else if (this.storeBudget.allow()) {
      this.metrics.lobbyCache.inc({ result: "miss" });
      answer = this.query(effective);
      // Kept past lobbyCacheMs too: the answer an over-budget query falls back on.
      this.cache.set(key, { answer, atMs: nowMs });
    } else if (cached === undefined) {
      answer = Promise.resolve(SHED);
    } else {
      // Kept as recent: a query games keep asking outlives a flood of one-off filters.
      this.cache.set(key, cached);
      answer = stale(cached.answer);
    }
    const { reply, result } = await answer;
    this.metrics.lobbyRequests.inc({ result });
    return reply;
  }

  private async query(query: LobbyQuery): Promise<LobbyAnswer> {
    try {
      const servers = await this.registry.queryLobby(query, {
        scanLimit: this.options.lobbyScanLimit,
        replyMaxBytes: this.options.lobbyReplyMaxBytes,
      });
      const { reply, included } = encodeLobbyWithin(servers, this.options.lobbyReplyMaxBytes);
      return { reply, result: included < servers.length ? "truncated" : "ok" };
    } catch (error) {
      // An empty list lets the game's lobby screen finish instead of waiting forever.
      this.log.warn({ err: error }, "lobby query failed: answered an empty list");
      return { reply: encodeLobby([]), result: "store_error" };
    }
  }
}

/** A cached answer served past its time: the same bytes, counted as stale. */
async function stale(cached: Promise<LobbyAnswer>): Promise<LobbyAnswer> {
  return { reply: (await cached).reply, result: "stale" };
}
