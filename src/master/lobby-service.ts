// The lobby as games get it: identical queries within `lobbyCacheMs` share
// one store query and one encoded reply (the same Buffer goes to every
// socket, so a hundred slow readers hold one copy), the store's work is
// bounded by the scan limit, and the reply by the byte cap a game can read.
import type { Logger } from "pino";
import type { Registry } from "../cluster/types.js";
import type { LobbyOrder } from "../config/index.js";
import type { MasterMetrics } from "../metrics.js";
import { encodeLobby, encodeLobbyWithin, type LobbyQuery } from "../protocol/index.js";
import { GenerationalMap } from "../util/generational-map.js";
import { ThrottledLog } from "../util/log-throttle.js";
import { type Clock, monotonicMs } from "../util/monotonic.js";

/** An encoded reply and how it went (a cached answer counts the same result again). */
interface LobbyAnswer {
  reply: Buffer;
  result: "ok" | "truncated" | "store_error";
}

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
}

export class LobbyService {
  private readonly cache = new GenerationalMap<string, CachedAnswer>(MAX_CACHED_QUERIES);
  private readonly log: ThrottledLog;

  constructor(
    private readonly registry: Registry,
    private readonly options: LobbyServiceOptions,
    private readonly metrics: MasterMetrics,
    logger: Logger,
    private readonly now: Clock = monotonicMs,
  ) {
    this.log = new ThrottledLog(logger);
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
    this.metrics.lobbyCache.inc({ result: hit ? "hit" : "miss" });
    let answer: Promise<LobbyAnswer>;
    if (hit) answer = cached.answer;
    else {
      answer = this.query(effective);
      if (this.options.lobbyCacheMs > 0) this.cache.set(key, { answer, atMs: nowMs });
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
