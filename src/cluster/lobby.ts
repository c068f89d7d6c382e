// Lobby semantics shared by every store: exact-match filters on data1..data8,
// sort by date or a data field, direction, limit (as udphp_downloadServerList
// documents; DESC = newest first), and the bounds every store honours: at most
// `scanLimit` servers examined, and no more entries than a reply can carry.
import { LOBBY_REPLY_FRAME_BYTES, type LobbyQuery } from "../protocol/index.js";
import type { LobbyBounds, ServerRegistration } from "./types.js";

/**
 * Bytes a lobby entry takes in the `-7` JSON besides its IP and data (keys,
 * quotes, createdTime).
 */
export const LOBBY_ENTRY_OVERHEAD_BYTES = 122;

/** `"` and `\`: the only characters of stored data that JSON escapes (to two bytes). */
const JSON_DOUBLED = /["\\]/g;

/**
 * A lobby entry's size in the `-7` JSON, exact (a createdTime of 10 digits):
 * control characters never reach the store (the TCP decoder drops them), so
 * JSON lengthens data only by doubling `"` and `\`. Exact, so a padded entry
 * cannot pass for a small one and crowd real ones out of the reply.
 */
export function estimatedEntryBytes(registration: ServerRegistration): number {
  let bytes = LOBBY_ENTRY_OVERHEAD_BYTES + registration.ip.length;
  for (const value of registration.data)
    bytes += Buffer.byteLength(value) + (value.match(JSON_DOUBLED)?.length ?? 0);
  return bytes;
}

/**
 * The largest estimated entry a reply of `replyMaxBytes` can carry; a bigger
 * one is left out of the lobby, so an oversized entry (a hostile server's
 * padded data) cannot take the place of those behind it.
 */
export function largestEntryBytes(replyMaxBytes: number): number {
  return replyMaxBytes - LOBBY_REPLY_FRAME_BYTES;
}

function fitsReply(registration: ServerRegistration, replyMaxBytes: number | null): boolean {
  return (
    replyMaxBytes === null || estimatedEntryBytes(registration) <= largestEntryBytes(replyMaxBytes)
  );
}

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

/**
 * The lobby from registrations in date order (`newestFirst` says which end
 * comes first): examines at most `scanLimit`, stops early when sorting by
 * date, then sorts, limits, and keeps what the byte bound allows.
 */
export function collectLobby(
  inDateOrder: Iterable<ServerRegistration>,
  newestFirst: boolean,
  query: LobbyQuery,
  bounds: LobbyBounds,
): ServerRegistration[] {
  const byDate = query.sortBy === "date";
  const walkMatchesSort = byDate && newestFirst === (query.sortDirection === "DESC");
  const matching: ServerRegistration[] = [];
  let examined = 0;
  let bytes = 0;
  for (const registration of inDateOrder) {
    if (examined++ >= bounds.scanLimit) break;
    if (!matchesLobbyFilters(registration, query.filters)) continue;
    if (!fitsReply(registration, bounds.replyMaxBytes)) continue;
    matching.push(registration);
    if (!walkMatchesSort) continue;
    bytes += estimatedEntryBytes(registration);
    if (query.limit !== null && matching.length >= query.limit) break;
    if (bounds.replyMaxBytes !== null && bytes > bounds.replyMaxBytes) break;
  }
  matching.sort(compareForLobby(query));
  const limited = query.limit === null ? matching : matching.slice(0, query.limit);
  return withinBytes(limited, bounds.replyMaxBytes);
}

/**
 * The leading entries whose estimated size fits `maxBytes` (plus one, which
 * the encoder trims); entries too big for any reply are left out.
 */
export function withinBytes(
  entries: ServerRegistration[],
  maxBytes: number | null,
): ServerRegistration[] {
  if (maxBytes === null) return entries;
  const kept: ServerRegistration[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (!fitsReply(entry, maxBytes)) continue;
    kept.push(entry);
    bytes += estimatedEntryBytes(entry);
    if (bytes > maxBytes) break;
  }
  return kept;
}
