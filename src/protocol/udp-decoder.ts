// Decoder for the datagrams games send the master: `reg` (game server) and
// `connect` (client). GameMaker's network_send_udp prepends a 12-byte header;
// other engines and our SDK's raw mode send the bare payload. Both are accepted.
import { type DecodeError, decodeError } from "./errors.js";
import type { UdpCommand } from "./messages.js";

/** First four bytes of GameMaker's UDP packet header (0xDEADC0DE, little-endian). */
export const GAMEMAKER_UDP_MAGIC = Buffer.from([0xde, 0xc0, 0xad, 0xde]);
export const GAMEMAKER_UDP_HEADER_BYTES = 12;
/** Datagrams larger than this are not GMnet commands. */
export const MAX_COMMAND_DATAGRAM_BYTES = 512;

export type UdpDecodeResult =
  | { ok: true; command: UdpCommand; hadGameMakerHeader: boolean }
  | { ok: false; error: DecodeError };

export function decodeUdpDatagram(datagram: Uint8Array): UdpDecodeResult {
  if (datagram.length === 0) return { ok: false, error: decodeError("empty_datagram", "empty") };
  if (datagram.length > MAX_COMMAND_DATAGRAM_BYTES) {
    return {
      ok: false,
      error: decodeError("bad_datagram", `datagram of ${datagram.length} bytes is too large`),
    };
  }
  const hadGameMakerHeader = hasGameMakerHeader(datagram);
  const payload = hadGameMakerHeader ? datagram.subarray(GAMEMAKER_UDP_HEADER_BYTES) : datagram;
  const command = firstLine(payload);
  if (command === "reg") return { ok: true, command: { kind: "reg" }, hadGameMakerHeader };
  if (command === "connect") return { ok: true, command: { kind: "connect" }, hadGameMakerHeader };
  if (command === "") return { ok: false, error: decodeError("empty_datagram", "no command") };
  return {
    ok: false,
    error: decodeError(
      "unknown_command",
      `unknown command ${JSON.stringify(command.slice(0, 32))}`,
    ),
  };
}

function hasGameMakerHeader(datagram: Uint8Array): boolean {
  if (datagram.length < GAMEMAKER_UDP_HEADER_BYTES) return false;
  for (let i = 0; i < GAMEMAKER_UDP_MAGIC.length; i++) {
    if (datagram[i] !== GAMEMAKER_UDP_MAGIC[i]) return false;
  }
  return true;
}

/** The first LF/CR-terminated line, with NULs and control characters dropped. */
function firstLine(payload: Uint8Array): string {
  const bytes: number[] = [];
  for (const byte of payload) {
    if (byte === 0x0a || byte === 0x0d) {
      if (bytes.length > 0) break;
      continue;
    }
    if (byte < 0x20 || byte === 0x7f) continue;
    bytes.push(byte);
  }
  return Buffer.from(bytes).toString("utf8");
}
