// The lobby as an HTTP query string (`data1`..`data8`, `sortBy`, `direction`,
// `limit`), declared once for every route that takes it: the JSON schema that
// validates it, its type, and the LobbyQuery it becomes.
import {
  LOBBY_DATA_FIELDS,
  LOBBY_SORT_KEYS,
  type LobbyQuery,
  type LobbySortKey,
} from "../protocol/index.js";

export type LobbyQuerystring = Partial<Record<`data${number}`, string>> & {
  sortBy?: LobbySortKey;
  direction?: "ASC" | "DESC";
  limit?: number;
};

/** Schema properties of a lobby query string (routes add their own, e.g. `offset`). */
export const LOBBY_QUERYSTRING_PROPERTIES = {
  sortBy: { type: "string", enum: LOBBY_SORT_KEYS },
  direction: { type: "string", enum: ["ASC", "DESC"] },
  limit: { type: "integer", minimum: 1, maximum: 1000 },
  ...Object.fromEntries(
    Array.from({ length: LOBBY_DATA_FIELDS }, (_, i) => [
      `data${i + 1}`,
      { type: "string", maxLength: 1024 },
    ]),
  ),
} as const;

/** The LobbyQuery a query string asks for (`limit` as given, or `fallbackLimit`). */
export function lobbyQueryFrom(q: LobbyQuerystring, fallbackLimit: number | null): LobbyQuery {
  return {
    filters: Array.from({ length: LOBBY_DATA_FIELDS }, (_, i) => q[`data${i + 1}`] ?? ""),
    sortBy: q.sortBy ?? "date",
    sortDirection: q.direction ?? "DESC",
    limit: q.limit ?? fallbackLimit,
  };
}
