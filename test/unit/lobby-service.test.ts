import pino from "pino";
import { describe, expect, it } from "vitest";
import { MemoryRegistry } from "../../src/cluster/memory/memory-registry.js";
import type { LobbyBounds, ServerRegistration } from "../../src/cluster/types.js";
import { LobbyService } from "../../src/master/lobby-service.js";
import { MasterMetrics } from "../../src/metrics.js";
import type { LobbyQuery } from "../../src/protocol/index.js";
import { CONTRACT_TIMINGS } from "../contract/registry-contract.js";
import { metricTotal } from "../helpers/master.js";

function queryFor(filter: string): LobbyQuery {
  return {
    filters: [filter, "", "", "", "", "", "", ""],
    sortBy: "date",
    sortDirection: "DESC",
    limit: null,
  };
}

/** A registry whose lobby queries are counted. */
class CountingRegistry extends MemoryRegistry {
  lobbyQueries = 0;
  override queryLobby(query: LobbyQuery, bounds: LobbyBounds): Promise<ServerRegistration[]> {
    this.lobbyQueries++;
    return super.queryLobby(query, bounds);
  }
}

function service(storeRate: number) {
  let nowMs = 1_000_000;
  const registry = new CountingRegistry({ ...CONTRACT_TIMINGS, maxTrackedSources: 1000 });
  const metrics = new MasterMetrics({ processMetrics: false });
  const lobby = new LobbyService(
    registry,
    {
      lobbyCacheMs: 1000,
      lobbyScanLimit: 100,
      lobbyReplyMaxBytes: 1200,
      lobbyOrder: "documented",
      lobbyStoreRate: storeRate,
    },
    metrics,
    pino({ level: "silent" }),
    () => nowMs,
  );
  return { registry, metrics, lobby, advance: (ms: number) => (nowMs += ms) };
}

describe("LobbyService store budget", () => {
  it("sends the store at most its burst of distinct queries at once, then sheds with an empty list", async () => {
    const { registry, metrics, lobby } = service(5);
    for (let i = 0; i < 100; i++) await lobby.reply(queryFor(`distinct-${i}`));
    expect(registry.lobbyQueries).toBe(10); // burst = twice the rate
    expect(await metricTotal(metrics.lobbyRequests, { result: "shed" })).toBe(90);
  });

  it("refills at its rate: a second later, five more queries reach the store", async () => {
    const { registry, lobby, advance } = service(5);
    for (let i = 0; i < 20; i++) await lobby.reply(queryFor(`a-${i}`));
    advance(1000);
    for (let i = 0; i < 20; i++) await lobby.reply(queryFor(`b-${i}`));
    expect(registry.lobbyQueries).toBe(15);
  });

  it("answers a query asked before with its last answer, however old, when over budget", async () => {
    const { registry, metrics, lobby, advance } = service(1);
    const popular = queryFor("my-game");
    const first = await lobby.reply(popular);
    for (let i = 0; i < 10; i++) await lobby.reply(queryFor(`flood-${i}`)); // spends the budget
    advance(60_000);
    for (let i = 0; i < 300; i++) await lobby.reply(queryFor(`flood-late-${i}`)); // and again, past the cache's size
    const later = await lobby.reply(popular);
    expect(later.equals(first)).toBe(true);
    expect(await metricTotal(metrics.lobbyRequests, { result: "stale" })).toBe(1);
    expect(registry.lobbyQueries).toBeLessThanOrEqual(4);
  });

  it("does not bound the store with a rate of 0", async () => {
    const { registry, lobby } = service(0);
    for (let i = 0; i < 50; i++) await lobby.reply(queryFor(`distinct-${i}`));
    expect(registry.lobbyQueries).toBe(50);
  });
});
