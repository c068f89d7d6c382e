// Incremental decoder for what games send the master over TCP.
// Games write NUL-terminated strings ending in LF; the reference master reads
// NUL-stripped lines (LF, CR or CRLF end a line) and takes a command's
// arguments from the following lines. Bytes may arrive split anywhere or
// several commands per chunk.
import { type DecodeError, decodeError } from "./errors.js";
import {
  LOBBY_DATA_FIELDS,
  LOBBY_SORT_KEYS,
  type LobbyQuery,
  type LobbySortDirection,
  type TcpCommand,
} from "./messages.js";

export type TcpDecodeResult = { ok: true; command: TcpCommand } | { ok: false; error: DecodeError };

export interface TcpDecoderLimits {
  /** Longest accepted line, in bytes, after NULs and control characters are dropped. */
  maxLineBytes: number;
}

export const DEFAULT_TCP_DECODER_LIMITS: TcpDecoderLimits = { maxLineBytes: 1024 };

/** How many argument lines follow each command line. */
const ARGUMENT_LINES: Readonly<Record<string, number>> = {
  reg: 0,
  reg2: 1 + LOBBY_DATA_FIELDS,
  ping: 0,
  connect: 1,
  lobby2: LOBBY_DATA_FIELDS + 3,
  version: 0,
  istesting: 0,
  testinginfos: 0,
};

const LF = 0x0a;
const CR = 0x0d;

export class TcpCommandDecoder {
  /** Grows from a few bytes up to the limit: a kept server socket only ever sees `ping`. */
  private lineBuffer: Buffer | null = null;
  private lineLength = 0;
  private previousByteWasCr = false;
  private readonly lines: string[] = [];
  private failure: DecodeError | null = null;

  constructor(private readonly limits: TcpDecoderLimits = DEFAULT_TCP_DECODER_LIMITS) {}

  /** Bytes held for an incomplete command (bounded by the line limit times the longest command). */
  get pendingBytes(): number {
    let total = this.lineLength;
    for (const line of this.lines) total += line.length;
    return total;
  }

  /** Feeds bytes; returns every command completed by them. After an error the decoder stays failed. */
  push(chunk: Uint8Array): TcpDecodeResult[] {
    const results: TcpDecodeResult[] = [];
    if (this.failure) return results;
    for (const byte of chunk) {
      if (byte === LF && this.previousByteWasCr) {
        this.previousByteWasCr = false;
        continue; // second half of CRLF
      }
      this.previousByteWasCr = byte === CR;
      if (byte === LF || byte === CR) {
        const result = this.completeLine();
        if (result) {
          results.push(result);
          if (!result.ok) return results;
        }
        continue;
      }
      if (byte < 0x20 || byte === 0x7f) continue; // NULs and control characters vanish
      if (this.lineLength >= this.limits.maxLineBytes) {
        return [
          ...results,
          this.fail("line_too_long", `line exceeds ${this.limits.maxLineBytes} bytes`),
        ];
      }
      this.appendByte(byte);
    }
    return results;
  }

  private appendByte(byte: number): void {
    let buffer = this.lineBuffer;
    if (buffer === null || this.lineLength === buffer.length) {
      const grown = Buffer.allocUnsafe(
        Math.min(this.limits.maxLineBytes, Math.max(32, this.lineLength * 2)),
      );
      buffer?.copy(grown, 0, 0, this.lineLength);
      buffer = grown;
      this.lineBuffer = grown;
    }
    buffer[this.lineLength++] = byte;
  }

  private completeLine(): TcpDecodeResult | null {
    const line = this.lineBuffer?.toString("utf8", 0, this.lineLength) ?? "";
    this.lineLength = 0;
    if (this.lines.length === 0 && line === "") return null; // stray blank line between commands
    this.lines.push(line);
    const name = this.lines[0] as string;
    const argumentCount = ARGUMENT_LINES[name];
    if (argumentCount === undefined) {
      return this.fail("unknown_command", `unknown command ${JSON.stringify(name.slice(0, 32))}`);
    }
    if (this.lines.length < 1 + argumentCount) return null;
    const args = this.lines.splice(0).slice(1);
    // Between commands nothing is held: a kept server socket then costs no line buffer.
    this.lineBuffer = null;
    const built = buildCommand(name, args);
    if (!built.ok) this.failure = built.error;
    return built;
  }

  private fail(code: DecodeError["code"], message: string): TcpDecodeResult {
    this.failure = decodeError(code, message);
    return { ok: false, error: this.failure };
  }
}

function buildCommand(name: string, args: string[]): TcpDecodeResult {
  switch (name) {
    case "reg":
    case "ping":
    case "version":
    case "istesting":
    case "testinginfos":
      return { ok: true, command: { kind: name } };
    case "reg2":
      return {
        ok: true,
        command: { kind: "reg2", version: args[0] ?? "", data: args.slice(1) },
      };
    case "connect":
      return { ok: true, command: { kind: "connect", serverIp: (args[0] ?? "").trim() } };
    case "lobby2":
      return parseLobbyQuery(args);
    default:
      return { ok: false, error: decodeError("unknown_command", `unknown command ${name}`) };
  }
}

function parseLobbyQuery(args: string[]): TcpDecodeResult {
  const filters = args.slice(0, LOBBY_DATA_FIELDS);
  const sortByText = (args[LOBBY_DATA_FIELDS] ?? "").trim().toLowerCase();
  const directionText = (args[LOBBY_DATA_FIELDS + 1] ?? "").trim().toUpperCase();
  const limitText = (args[LOBBY_DATA_FIELDS + 2] ?? "").trim();

  const sortBy = sortByText === "" ? "date" : LOBBY_SORT_KEYS.find((key) => key === sortByText);
  if (!sortBy) return badArgument(`lobby2 sortby ${JSON.stringify(sortByText.slice(0, 32))}`);

  let sortDirection: LobbySortDirection;
  if (directionText === "" || directionText === "DESC") sortDirection = "DESC";
  else if (directionText === "ASC") sortDirection = "ASC";
  else return badArgument(`lobby2 direction ${JSON.stringify(directionText.slice(0, 32))}`);

  let limit: number | null = null;
  if (limitText !== "") {
    if (!/^\d{1,9}$/.test(limitText)) {
      return badArgument(`lobby2 limit ${JSON.stringify(limitText.slice(0, 32))}`);
    }
    limit = Number(limitText);
  }
  const query: LobbyQuery = { filters, sortBy, sortDirection, limit };
  return { ok: true, command: { kind: "lobby2", query } };
}

function badArgument(message: string): TcpDecodeResult {
  return { ok: false, error: decodeError("bad_argument", message) };
}
