// Encoders for the master's TCP replies. Each returns the exact bytes of one
// reply; the transport must send it in one write.
import { LOBBY_DATA_FIELDS, type LobbyEntry, ReplyId } from "./messages.js";

function idByte(id: number): Buffer {
  return Buffer.from([id & 0xff]);
}

/** `-1`: the peer's public UDP endpoint, ip and port as NUL-terminated text. */
export function encodePeerFound(ip: string, port: number): Buffer {
  // One allocation: latin1 maps U+00FF to the byte FF, and IPs and ports are ASCII.
  return Buffer.from(`\u00ff${ip}\u0000${port}\u0000`, "latin1");
}

/** `-2`: the requested server is not registered (or could not be mediated). */
export function encodeServerNotFound(): Buffer {
  return idByte(ReplyId.masterNotFound);
}

/** One lobby entry as JSON: keys in the reference master's order. */
function lobbyRow(entry: LobbyEntry): string {
  const row: Record<string, string | number> = { ip: entry.ip };
  for (let i = 0; i < LOBBY_DATA_FIELDS; i++) row[`data${i + 1}`] = entry.data[i] ?? "";
  row.createdTime = entry.createdTimeSec;
  return JSON.stringify(row);
}

/** The lobby JSON: an array of entries. */
export function lobbyJson(entries: readonly LobbyEntry[]): string {
  return `[${entries.map(lobbyRow).join(",")}]`;
}

/** `-7`: the lobby, JSON ended by LF as the reference master does. */
export function encodeLobby(entries: readonly LobbyEntry[]): Buffer {
  return encodeLobbyWithin(entries, Number.POSITIVE_INFINITY).reply;
}

/** Bytes of a `-7` reply besides its entries and commas: id byte, `[`, `]`, LF. */
export const LOBBY_REPLY_FRAME_BYTES = 4;

/**
 * `-7` with the leading entries that fit in `maxBytes` (whole entries only,
 * so the JSON stays valid): a game reads one TCP segment per event. An entry
 * too big for any reply is skipped, not the end of the reply, so one
 * oversized entry cannot empty the lobby.
 */
export function encodeLobbyWithin(
  entries: readonly LobbyEntry[],
  maxBytes: number,
): { reply: Buffer; included: number } {
  const rows: string[] = [];
  let bytes = LOBBY_REPLY_FRAME_BYTES;
  for (const entry of entries) {
    const row = lobbyRow(entry);
    const rowBytes = Buffer.byteLength(row) + (rows.length > 0 ? 1 : 0);
    if (bytes + rowBytes > maxBytes) {
      // Too big for any reply: skipped. Otherwise the reply is full: a prefix of the order.
      if (rowBytes - (rows.length > 0 ? 1 : 0) > maxBytes - LOBBY_REPLY_FRAME_BYTES) continue;
      break;
    }
    rows.push(row);
    bytes += rowBytes;
  }
  const reply = Buffer.concat([
    idByte(ReplyId.masterLobby),
    Buffer.from(`[${rows.join(",")}]\n`, "utf8"),
  ]);
  return { reply, included: rows.length };
}

/** `-8`: whether the master runs in testing mode (ours never does). */
export function encodeIsTesting(testing: boolean): Buffer {
  return Buffer.from([ReplyId.isTesting & 0xff, testing ? 1 : 0]);
}

/** `-9`: testing infos; outside testing mode a single 0 byte follows the id. */
export function encodeTestingInfosOff(): Buffer {
  return Buffer.from([ReplyId.testingInfos & 0xff, 0]);
}

/** `-10`: the master's version. */
export function encodeVersion(version: string): Buffer {
  return Buffer.concat([idByte(ReplyId.version), Buffer.from(`${version}\n`, "utf8")]);
}
