// The game's side of the wire, for our SDK, tests and tools: requests as the
// GML scripts write them (buffer_string: text + NUL), GameMaker's UDP header,
// peer packets (-3 knock, -4 welcome) and a parser for master replies.
import { GAMEMAKER_UDP_HEADER_BYTES, GAMEMAKER_UDP_MAGIC } from "./udp-decoder.js";
import { LOBBY_DATA_FIELDS, type LobbyQuery } from "./messages.js";

/** GML's buffer_write(buffer_string, text): UTF-8 then one NUL. */
export function gmlString(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, "utf8"), Buffer.from([0])]);
}

function lines(...texts: string[]): Buffer {
  return Buffer.concat(texts.map((text) => gmlString(`${text}\n`)));
}

export const encodeRegRequest = (): Buffer => lines("reg");
export const encodePingRequest = (): Buffer => lines("ping");

export function encodeReg2Request(version: string, data: readonly string[]): Buffer {
  const fields = Array.from({ length: LOBBY_DATA_FIELDS }, (_, i) => data[i] ?? "");
  return lines("reg2", version, ...fields);
}

/** One string with an embedded LF, exactly as udphp_createClient writes it. */
export function encodeConnectRequest(serverIp: string): Buffer {
  return gmlString(`connect\n${serverIp}\n`);
}

export function encodeLobby2Request(query: Partial<LobbyQuery>): Buffer {
  const filters = Array.from({ length: LOBBY_DATA_FIELDS }, (_, i) => query.filters?.[i] ?? "");
  return lines(
    "lobby2",
    ...filters,
    query.sortBy ?? "date",
    query.sortDirection ?? "DESC",
    query.limit === null || query.limit === undefined ? "" : String(query.limit),
  );
}

/** Wraps a payload in GameMaker's 12-byte network_send_udp header. */
export function withGameMakerHeader(payload: Buffer): Buffer {
  const header = Buffer.alloc(GAMEMAKER_UDP_HEADER_BYTES);
  GAMEMAKER_UDP_MAGIC.copy(header, 0);
  header.writeUInt32LE(GAMEMAKER_UDP_HEADER_BYTES, 4);
  header.writeUInt32LE(payload.length, 8);
  return Buffer.concat([header, payload]);
}

export function stripGameMakerHeader(datagram: Buffer): Buffer {
  if (
    datagram.length >= GAMEMAKER_UDP_HEADER_BYTES &&
    datagram.subarray(0, 4).equals(GAMEMAKER_UDP_MAGIC)
  ) {
    return datagram.subarray(GAMEMAKER_UDP_HEADER_BYTES);
  }
  return datagram;
}

export function encodeUdpRequest(command: "reg" | "connect", gameMakerHeader: boolean): Buffer {
  const payload = gmlString(`${command}\n`);
  return gameMakerHeader ? withGameMakerHeader(payload) : payload;
}

/** Peer-to-peer packet ids the GML scripts exchange directly. */
export const PeerPacket = { knock: -3, welcome: -4 } as const;

export function encodePeerPacket(id: number, gameMakerHeader: boolean): Buffer {
  const payload = Buffer.from([id & 0xff]);
  return gameMakerHeader ? withGameMakerHeader(payload) : payload;
}

export type MasterReply =
  | { kind: "peer"; ip: string; port: number }
  | { kind: "not-found" }
  | { kind: "lobby"; json: string }
  | { kind: "other"; id: number; bytes: Buffer };

/**
 * Parses master replies from a TCP byte stream. A game parses one reply per
 * read; this parser is more forgiving (it also copes with merged or split
 * replies) so tests can tell exactly what arrived.
 */
export class MasterReplyParser {
  private buffer = Buffer.alloc(0);

  push(chunk: Buffer): MasterReply[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const replies: MasterReply[] = [];
    for (;;) {
      const reply = this.next();
      if (!reply) return replies;
      replies.push(reply);
    }
  }

  private next(): MasterReply | null {
    if (this.buffer.length === 0) return null;
    const id = this.buffer.readInt8(0);
    if (id === -2) {
      this.buffer = this.buffer.subarray(1);
      return { kind: "not-found" };
    }
    if (id === -1) {
      const ipEnd = this.buffer.indexOf(0, 1);
      if (ipEnd < 0) return null;
      const portEnd = this.buffer.indexOf(0, ipEnd + 1);
      if (portEnd < 0) return null;
      const ip = this.buffer.toString("utf8", 1, ipEnd);
      const port = Number(this.buffer.toString("utf8", ipEnd + 1, portEnd));
      this.buffer = this.buffer.subarray(portEnd + 1);
      return { kind: "peer", ip, port };
    }
    if (id === -7) {
      const end = this.buffer.indexOf(0x0a, 1);
      if (end < 0) return null;
      const json = this.buffer.toString("utf8", 1, end);
      this.buffer = this.buffer.subarray(end + 1);
      return { kind: "lobby", json };
    }
    const bytes = this.buffer;
    this.buffer = Buffer.alloc(0);
    return { kind: "other", id, bytes };
  }
}
