import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  encodeConnectRequest,
  encodeLobby2Request,
  encodePingRequest,
  encodeReg2Request,
  encodeRegRequest,
  type TcpCommand,
  TcpCommandDecoder,
  type TcpDecodeResult,
} from "../../src/protocol/index.js";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");

function decodeAll(chunks: readonly Buffer[], maxLineBytes = 1024): TcpDecodeResult[] {
  const decoder = new TcpCommandDecoder({ maxLineBytes });
  return chunks.flatMap((chunk) => decoder.push(chunk));
}

function commands(results: TcpDecodeResult[]): TcpCommand[] {
  return results.map((result) => {
    if (!result.ok) throw new Error(`unexpected error ${result.error.code}`);
    return result.command;
  });
}

const LOBBY_BYTES = Buffer.concat(
  ["lobby2", "dm", "", "", "", "", "", "", "eu", "data2", "ASC", "5"].map((line) =>
    Buffer.from(`${line}\n\0`),
  ),
);

/** Golden inputs as the GML scripts write them, with what they must decode to. */
const GOLDEN: Array<{ name: string; bytes: Buffer; command: TcpCommand }> = [
  { name: "reg", bytes: hex("72 65 67 0A 00"), command: { kind: "reg" } },
  {
    name: "reg2",
    bytes: Buffer.concat(
      ["reg2", "1.2.5", "My game", "dm", "", "", "", "", "", "8"].map((line) =>
        Buffer.from(`${line}\n\0`),
      ),
    ),
    command: {
      kind: "reg2",
      version: "1.2.5",
      data: ["My game", "dm", "", "", "", "", "", "8"],
    },
  },
  { name: "ping", bytes: hex("70 69 6E 67 0A 00"), command: { kind: "ping" } },
  {
    name: "connect (one string with an embedded LF)",
    bytes: Buffer.from("connect\n203.0.113.7\n\0"),
    command: { kind: "connect", serverIp: "203.0.113.7" },
  },
  {
    name: "lobby2",
    bytes: LOBBY_BYTES,
    command: {
      kind: "lobby2",
      query: {
        filters: ["dm", "", "", "", "", "", "", "eu"],
        sortBy: "data2",
        sortDirection: "ASC",
        limit: 5,
      },
    },
  },
  { name: "version", bytes: Buffer.from("version\n\0"), command: { kind: "version" } },
  { name: "istesting", bytes: Buffer.from("istesting\n\0"), command: { kind: "istesting" } },
  {
    name: "testinginfos",
    bytes: Buffer.from("testinginfos\n\0"),
    command: { kind: "testinginfos" },
  },
];

describe("TcpCommandDecoder: golden bytes", () => {
  for (const golden of GOLDEN) {
    it(`decodes ${golden.name} from the exact bytes a game sends`, () => {
      expect(commands(decodeAll([golden.bytes]))).toEqual([golden.command]);
    });
  }

  it("the game-side encoders produce the golden bytes", () => {
    expect(encodeRegRequest()).toEqual(hex("72 65 67 0A 00"));
    expect(encodePingRequest()).toEqual(hex("70 69 6E 67 0A 00"));
    expect(encodeConnectRequest("203.0.113.7")).toEqual(Buffer.from("connect\n203.0.113.7\n\0"));
    expect(encodeReg2Request("1.2.5", ["My game", "dm", "", "", "", "", "", "8"])).toEqual(
      GOLDEN[1]?.bytes,
    );
    expect(
      encodeLobby2Request({
        filters: ["dm", "", "", "", "", "", "", "eu"],
        sortBy: "data2",
        sortDirection: "ASC",
        limit: 5,
      }),
    ).toEqual(LOBBY_BYTES);
  });

  it("an empty lobby2 query defaults to date, DESC, no limit", () => {
    const bytes = encodeLobby2Request({});
    expect(commands(decodeAll([bytes]))).toEqual([
      {
        kind: "lobby2",
        query: {
          filters: ["", "", "", "", "", "", "", ""],
          sortBy: "date",
          sortDirection: "DESC",
          limit: null,
        },
      },
    ]);
  });

  it("lobby2 accepts empty sortby and direction lines as the defaults", () => {
    const bytes = Buffer.from(`lobby2\n${"\n".repeat(8)}\n\n\n`);
    const [command] = commands(decodeAll([bytes]));
    expect(command).toEqual({
      kind: "lobby2",
      query: { filters: Array(8).fill(""), sortBy: "date", sortDirection: "DESC", limit: null },
    });
  });
});

describe("TcpCommandDecoder: stream framing", () => {
  for (const golden of GOLDEN) {
    it(`${golden.name} split at every byte boundary decodes the same`, () => {
      for (let cut = 0; cut <= golden.bytes.length; cut++) {
        const parts = [golden.bytes.subarray(0, cut), golden.bytes.subarray(cut)];
        expect(commands(decodeAll(parts))).toEqual([golden.command]);
      }
    });
  }

  it("a command fed one byte at a time decodes once, at its last line end", () => {
    const decoder = new TcpCommandDecoder();
    const bytes = GOLDEN[1]?.bytes as Buffer;
    const completedAt: number[] = [];
    bytes.forEach((byte, index) => {
      if (decoder.push(Buffer.from([byte])).length > 0) completedAt.push(index);
    });
    expect(completedAt).toEqual([bytes.lastIndexOf(0x0a)]);
  });

  it("several commands merged in one chunk all decode, in order", () => {
    const merged = Buffer.concat(GOLDEN.map((golden) => golden.bytes));
    expect(commands(decodeAll([merged]))).toEqual(GOLDEN.map((golden) => golden.command));
  });

  it("CRLF and bare CR end lines like LF", () => {
    const crlf = Buffer.from("connect\r\n198.51.100.2\r\n\0ping\r\n");
    const cr = Buffer.from("connect\r198.51.100.2\r\0ping\r");
    const expected: TcpCommand[] = [
      { kind: "connect", serverIp: "198.51.100.2" },
      { kind: "ping" },
    ];
    expect(commands(decodeAll([crlf]))).toEqual(expected);
    expect(commands(decodeAll([cr]))).toEqual(expected);
  });

  it("a CR at the end of one chunk and its LF at the start of the next are one line end", () => {
    const results = decodeAll([
      Buffer.from("reg2\r"),
      Buffer.from("\n1.3\r"),
      Buffer.from(`\n${"x\r\n".repeat(8)}`),
    ]);
    expect(commands(results)).toEqual([{ kind: "reg2", version: "1.3", data: Array(8).fill("x") }]);
  });

  it("a CRLF split between chunks does not insert an empty argument line", () => {
    const results = decodeAll([
      Buffer.from("connect\r"),
      Buffer.from("\n10.0.0.1\r"),
      Buffer.from("\n"),
    ]);
    expect(commands(results)).toEqual([{ kind: "connect", serverIp: "10.0.0.1" }]);
  });

  it("blank lines between commands are ignored", () => {
    const bytes = Buffer.from("\n\n\0\r\nreg\n\0\n\n\r\nping\n\0\n");
    expect(commands(decodeAll([bytes]))).toEqual([{ kind: "reg" }, { kind: "ping" }]);
  });

  it("empty lines inside a command are its (empty) arguments", () => {
    const bytes = Buffer.from(`reg2\n\n${"\n".repeat(8)}`);
    expect(commands(decodeAll([bytes]))).toEqual([
      { kind: "reg2", version: "", data: Array(8).fill("") },
    ]);
  });

  it("NULs and other control characters vanish from lines", () => {
    const bytes = Buffer.from("re\u0000g\u0001\u007f\n\u0000");
    expect(commands(decodeAll([bytes]))).toEqual([{ kind: "reg" }]);
  });

  it("the connect argument is trimmed of spaces", () => {
    expect(commands(decodeAll([Buffer.from("connect\n  10.1.2.3 \n\0")]))).toEqual([
      { kind: "connect", serverIp: "10.1.2.3" },
    ]);
  });

  it("UTF-8 lobby data split inside a multi-byte character decodes intact", () => {
    const bytes = encodeReg2Request("1.0", ["Ünïcødé 🎮", "", "", "", "", "", "", ""]);
    const emoji = bytes.indexOf(Buffer.from("🎮"));
    const results = decodeAll([bytes.subarray(0, emoji + 2), bytes.subarray(emoji + 2)]);
    expect(commands(results)).toEqual([
      { kind: "reg2", version: "1.0", data: ["Ünïcødé 🎮", "", "", "", "", "", "", ""] },
    ]);
  });
});

describe("TcpCommandDecoder: errors", () => {
  it("an unknown command is the typed error unknown_command", () => {
    const [result] = decodeAll([Buffer.from("hello\n\0")]);
    expect(result).toMatchObject({ ok: false, error: { code: "unknown_command" } });
  });

  it("command names are case-sensitive like the reference (REG is unknown)", () => {
    const [result] = decodeAll([Buffer.from("REG\n\0")]);
    expect(result).toMatchObject({ ok: false, error: { code: "unknown_command" } });
  });

  it("commands before an error still decode; nothing decodes after it", () => {
    const decoder = new TcpCommandDecoder();
    const results = decoder.push(Buffer.from("ping\n\0bogus\n\0reg\n\0"));
    expect(results).toHaveLength(2);
    expect(results[0]).toEqual({ ok: true, command: { kind: "ping" } });
    expect(results[1]).toMatchObject({ ok: false, error: { code: "unknown_command" } });
    expect(decoder.push(Buffer.from("reg\n\0"))).toEqual([]);
  });

  it("a line over the limit is line_too_long and the pending bytes stay bounded", () => {
    const decoder = new TcpCommandDecoder({ maxLineBytes: 64 });
    const results: TcpDecodeResult[] = [];
    for (let i = 0; i < 100; i++) {
      results.push(...decoder.push(Buffer.alloc(50, 0x61)));
      expect(decoder.pendingBytes).toBeLessThanOrEqual(64);
    }
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ ok: false, error: { code: "line_too_long" } });
  });

  it("a line of exactly the limit is accepted", () => {
    const decoder = new TcpCommandDecoder({ maxLineBytes: 64 });
    const ip = "1".repeat(64);
    expect(decoder.push(Buffer.from(`connect\n${ip}\n`))).toEqual([
      { ok: true, command: { kind: "connect", serverIp: ip } },
    ]);
  });

  it("an argument line over the limit is line_too_long too", () => {
    const results = decodeAll([Buffer.from(`reg2\n1.0\n${"d".repeat(100)}\n`)], 64);
    expect(results).toEqual([
      { ok: false, error: expect.objectContaining({ code: "line_too_long" }) },
    ]);
  });

  const lobby = (sortBy: string, direction: string, limit: string) =>
    Buffer.from(`lobby2\n${"\n".repeat(8)}${sortBy}\n${direction}\n${limit}\n`);

  it.each([
    ["an unknown sort key", lobby("players", "ASC", "")],
    ["an unknown direction", lobby("date", "UP", "")],
    ["a non-numeric limit", lobby("date", "ASC", "ten")],
    ["a negative limit", lobby("date", "ASC", "-1")],
    ["a fractional limit", lobby("date", "ASC", "1.5")],
    ["a ten-digit limit", lobby("date", "ASC", "1234567890")],
  ])("lobby2 with %s is bad_argument", (_name, bytes) => {
    expect(decodeAll([bytes])).toEqual([
      { ok: false, error: expect.objectContaining({ code: "bad_argument" }) },
    ]);
  });

  it("lobby2 sort key and direction are case-insensitive", () => {
    const [command] = commands(decodeAll([lobby("DATA3", "asc", "0")]));
    expect(command).toMatchObject({ query: { sortBy: "data3", sortDirection: "ASC", limit: 0 } });
  });
});

describe("TcpCommandDecoder: properties", () => {
  const text = fc
    .string({ unit: "grapheme", maxLength: 20 })
    .map((s) => [...s].filter((c) => c >= " " && c !== "\u007f").join(""));
  const ipText = fc.oneof(fc.ipV4(), fc.ipV6());
  const command: fc.Arbitrary<{ bytes: Buffer; command: TcpCommand }> = fc.oneof(
    fc.constant({ bytes: encodeRegRequest(), command: { kind: "reg" } as TcpCommand }),
    fc.constant({ bytes: encodePingRequest(), command: { kind: "ping" } as TcpCommand }),
    ipText.map((ip) => ({
      bytes: encodeConnectRequest(ip),
      command: { kind: "connect", serverIp: ip } as TcpCommand,
    })),
    fc
      .tuple(
        fc.stringMatching(/^\d{1,3}(\.\d{1,3}){0,2}$/),
        fc.array(text, { minLength: 8, maxLength: 8 }),
      )
      .map(([version, data]) => ({
        bytes: encodeReg2Request(version, data),
        command: { kind: "reg2", version, data } as TcpCommand,
      })),
    fc
      .record({
        filters: fc.array(
          text.map((t) => t.trim()),
          { minLength: 8, maxLength: 8 },
        ),
        sortBy: fc.constantFrom("date", "data1", "data5", "data8" as const),
        sortDirection: fc.constantFrom("ASC", "DESC" as const),
        limit: fc.option(fc.nat({ max: 1000 }), { nil: null }),
      })
      .map((query) => ({
        bytes: encodeLobby2Request(query),
        command: { kind: "lobby2", query } as TcpCommand,
      })),
  );

  it("random splits of random valid command sequences decode identically", () => {
    fc.assert(
      fc.property(
        fc.array(command, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (sequence, cutSeeds) => {
          const stream = Buffer.concat(sequence.map((entry) => entry.bytes));
          const cuts = [...new Set(cutSeeds.map((seed) => seed % (stream.length + 1)))].sort(
            (a, b) => a - b,
          );
          const chunks: Buffer[] = [];
          let start = 0;
          for (const cut of cuts) {
            chunks.push(stream.subarray(start, cut));
            start = cut;
          }
          chunks.push(stream.subarray(start));
          expect(commands(decodeAll(chunks))).toEqual(sequence.map((entry) => entry.command));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("random garbage never throws and pending bytes stay bounded", () => {
    const maxLineBytes = 128;
    // The longest command (lobby2) holds 12 lines of at most maxLineBytes each.
    const bound = maxLineBytes * 12;
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 20 }), (chunks) => {
        const decoder = new TcpCommandDecoder({ maxLineBytes });
        for (const chunk of chunks) {
          const results = decoder.push(chunk);
          for (const result of results) expect(typeof result.ok).toBe("boolean");
          expect(decoder.pendingBytes).toBeLessThanOrEqual(bound);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("garbage made of valid command words never throws either", () => {
    const word = fc.constantFrom(
      "reg",
      "reg2",
      "lobby2",
      "connect",
      "ping",
      "",
      "\n",
      "\r",
      "\0",
      "x".repeat(70),
    );
    fc.assert(
      fc.property(fc.array(word, { maxLength: 60 }), (words) => {
        const decoder = new TcpCommandDecoder({ maxLineBytes: 64 });
        decoder.push(Buffer.from(words.join("\n")));
        expect(decoder.pendingBytes).toBeLessThanOrEqual(64 * 12);
      }),
    );
  });
});
