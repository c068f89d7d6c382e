import { describe, expect, it } from "vitest";
import { collectLobby, estimatedEntryBytes, matchesLobbyFilters } from "../../src/cluster/lobby.js";
import type { ServerRegistration } from "../../src/cluster/types.js";
import { encodeLobby, LOBBY_REPLY_FRAME_BYTES, type LobbyQuery } from "../../src/protocol/index.js";

function server(ip: string, createdTimeSec: number, data: string[]): ServerRegistration {
  const padded = Array.from({ length: 8 }, (_, i) => data[i] ?? "");
  return {
    ip,
    udpPort: 1,
    version: "1.0",
    data: padded,
    createdTimeSec,
    ownerNodeId: "n",
    ownerConnectionId: ip,
  };
}

const SERVERS = [
  server("10.0.0.1", 100, ["dm", "eu", "b"]),
  server("10.0.0.2", 300, ["ctf", "eu", "c"]),
  server("10.0.0.3", 200, ["dm", "us", "a"]),
  server("10.0.0.4", 400, ["dm", "eu", "a"]),
];

const query = (q: Partial<LobbyQuery>): LobbyQuery => ({
  filters: Array(8).fill(""),
  sortBy: "date",
  sortDirection: "DESC",
  limit: null,
  ...q,
});
const ips = (list: ServerRegistration[]) => list.map((s) => s.ip);

/** The whole lobby, as a store walks it: newest first, no bounds. */
function applyLobbyQuery(servers: ServerRegistration[], q: LobbyQuery): ServerRegistration[] {
  const newestFirst = [...servers].sort((a, b) => b.createdTimeSec - a.createdTimeSec);
  return collectLobby(newestFirst, true, q, {
    scanLimit: Number.MAX_SAFE_INTEGER,
    replyMaxBytes: null,
  });
}

describe("lobby query", () => {
  it("no filters return every server, newest first by default (DESC)", () => {
    expect(ips(applyLobbyQuery(SERVERS, query({})))).toEqual([
      "10.0.0.4",
      "10.0.0.2",
      "10.0.0.3",
      "10.0.0.1",
    ]);
  });

  it("ASC by date returns oldest first", () => {
    expect(ips(applyLobbyQuery(SERVERS, query({ sortDirection: "ASC" })))).toEqual([
      "10.0.0.1",
      "10.0.0.3",
      "10.0.0.2",
      "10.0.0.4",
    ]);
  });

  it("filters are exact matches on their data field; several filters all apply", () => {
    expect(
      ips(applyLobbyQuery(SERVERS, query({ filters: ["dm", "", "", "", "", "", "", ""] }))),
    ).toEqual(["10.0.0.4", "10.0.0.3", "10.0.0.1"]);
    expect(
      ips(applyLobbyQuery(SERVERS, query({ filters: ["dm", "eu", "", "", "", "", "", ""] }))),
    ).toEqual(["10.0.0.4", "10.0.0.1"]);
    expect(applyLobbyQuery(SERVERS, query({ filters: ["d", "", "", "", "", "", "", ""] }))).toEqual(
      [],
    );
    expect(matchesLobbyFilters(SERVERS[0] as ServerRegistration, ["DM"])).toBe(false);
  });

  it("sorts by a data field as text, ties broken by IP", () => {
    expect(ips(applyLobbyQuery(SERVERS, query({ sortBy: "data3", sortDirection: "ASC" })))).toEqual(
      ["10.0.0.3", "10.0.0.4", "10.0.0.1", "10.0.0.2"],
    );
    expect(
      ips(applyLobbyQuery(SERVERS, query({ sortBy: "data2", sortDirection: "DESC" }))),
    ).toEqual(["10.0.0.3", "10.0.0.4", "10.0.0.2", "10.0.0.1"]);
  });

  it("limit keeps the first N after sorting; 0 returns none", () => {
    expect(ips(applyLobbyQuery(SERVERS, query({ limit: 2 })))).toEqual(["10.0.0.4", "10.0.0.2"]);
    expect(applyLobbyQuery(SERVERS, query({ limit: 0 }))).toEqual([]);
    expect(applyLobbyQuery(SERVERS, query({ limit: 99 }))).toHaveLength(4);
  });

  it("does not reorder the input it was given", () => {
    const input = [...SERVERS];
    applyLobbyQuery(input, query({ sortDirection: "ASC" }));
    expect(input).toEqual(SERVERS);
  });

  it("a walk bounded by scanLimit sorts only what it examined; a date walk stops at the limit", () => {
    const newestFirst = [...SERVERS].sort((a, b) => b.createdTimeSec - a.createdTimeSec);
    const bounded = { scanLimit: 2, replyMaxBytes: null };
    expect(
      ips(
        collectLobby(newestFirst, true, query({ sortBy: "data3", sortDirection: "ASC" }), bounded),
      ),
    ).toEqual(["10.0.0.4", "10.0.0.2"]);
    let examined = 0;
    const counting = function* () {
      for (const server of newestFirst) {
        examined++;
        yield server;
      }
    };
    collectLobby(counting(), true, query({ limit: 1 }), { scanLimit: 1_000, replyMaxBytes: null });
    expect(examined).toBe(1);
  });
});

describe("lobby entry size", () => {
  it("is the exact size of the entry in the -7 JSON, quotes, backslashes and UTF-8 included", () => {
    for (const value of ["", "plain", '"quoted"', "back\\slash", "ünïcødé ✓", '"\\'.repeat(40)]) {
      const entry = {
        ip: "203.0.113.7",
        udpPort: 1,
        version: "1.2.4",
        data: [value, "", "", "", "", "", "", value],
        createdTimeSec: 1_795_693_507,
        ownerNodeId: "n",
        ownerConnectionId: "c",
      };
      const sent = encodeLobby([entry]).length - LOBBY_REPLY_FRAME_BYTES;
      expect(estimatedEntryBytes(entry)).toBe(sent);
    }
  });
});
