// Lobby semantics shared by every store: exact-match filters on data1..data8,
// sort by date or a data field, direction, limit (as udphp_downloadServerList
// documents; DESC = newest first).
import type { LobbyQuery } from "../protocol/index.js";
import type { ServerRegistration } from "./types.js";

export function matchesLobbyFilters(
  registration: ServerRegistration,
  filters: readonly string[],
): boolean {
  for (let i = 0; i < filters.length; i++) {
    const filter = filters[i];
    if (filter && filter !== (registration.data[i] ?? "")) return false;
  }
  return true;
}

/** Orders registrations for a lobby reply; ties fall back to IP so replies are stable. */
export function compareForLobby(
  query: LobbyQuery,
): (a: ServerRegistration, b: ServerRegistration) => number {
  const direction = query.sortDirection === "ASC" ? 1 : -1;
  const field = query.sortBy === "date" ? -1 : Number(query.sortBy.slice(4)) - 1;
  return (a, b) => {
    let order: number;
    if (field < 0) order = a.createdTimeSec - b.createdTimeSec;
    else {
      const left = a.data[field] ?? "";
      const right = b.data[field] ?? "";
      order = left < right ? -1 : left > right ? 1 : 0;
    }
    if (order === 0) order = a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0;
    return order * direction;
  };
}

export function applyLobbyQuery(
  registrations: Iterable<ServerRegistration>,
  query: LobbyQuery,
): ServerRegistration[] {
  const matching: ServerRegistration[] = [];
  for (const registration of registrations) {
    if (matchesLobbyFilters(registration, query.filters)) matching.push(registration);
  }
  matching.sort(compareForLobby(query));
  return query.limit === null ? matching : matching.slice(0, query.limit);
}
