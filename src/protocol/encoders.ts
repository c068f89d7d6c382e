// Encoders for the master's TCP replies. Each returns the exact bytes of one
// reply; the transport must send it in one write.
import { type LobbyEntry, ReplyId } from "./messages.js";

const NUL = Buffer.from([0]);

function idByte(id: number): Buffer {
  return Buffer.from([id & 0xff]);
}

function cString(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, "utf8"), NUL]);
}

/** `-1`: the peer's public UDP endpoint, ip and port as NUL-terminated text. */
export function encodePeerFound(ip: string, port: number): Buffer {
  return Buffer.concat([idByte(ReplyId.master), cString(ip), cString(String(port))]);
}

/** `-2`: the requested server is not registered (or could not be mediated). */
export function encodeServerNotFound(): Buffer {
  return idByte(ReplyId.masterNotFound);
}

/** The lobby JSON: an array of objects with keys in the reference master's order. */
export function lobbyJson(entries: readonly LobbyEntry[]): string {
  const rows = entries.map((entry) => {
    const row: Record<string, string | number> = { ip: entry.ip };
    for (let i = 0; i < 8; i++) row[`data${i + 1}`] = entry.data[i] ?? "";
    row.createdTime = entry.createdTimeSec;
    return row;
  });
  return JSON.stringify(rows);
}

/** `-7`: the lobby, JSON ended by LF as the reference master does. */
export function encodeLobby(entries: readonly LobbyEntry[]): Buffer {
  return Buffer.concat([
    idByte(ReplyId.masterLobby),
    Buffer.from(`${lobbyJson(entries)}\n`, "utf8"),
  ]);
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
