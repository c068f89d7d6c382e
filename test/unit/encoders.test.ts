import { describe, expect, it } from "vitest";
import {
  encodeIsTesting,
  encodeLobby,
  encodeLobbyWithin,
  encodePeerFound,
  encodeServerNotFound,
  encodeTestingInfosOff,
  encodeVersion,
  MasterReplyParser,
} from "../../src/protocol/index.js";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");

describe("reply encoders", () => {
  it("-1 is FF, the ip and the port as NUL-terminated text (the PROTOCOL.md example)", () => {
    expect(encodePeerFound("203.0.113.7", 6510)).toEqual(
      hex("FF 32 30 33 2E 30 2E 31 31 33 2E 37 00 36 35 31 30 00"),
    );
  });

  it("-2 is the single byte FE", () => {
    expect(encodeServerNotFound()).toEqual(hex("FE"));
  });

  it("-7 is F9 then a JSON array with keys ip, data1..data8, createdTime, ending with LF", () => {
    const bytes = encodeLobby([
      { ip: "203.0.113.7", data: ["a", "b", "", "", "", "", "", "h"], createdTimeSec: 1700000000 },
      { ip: "198.51.100.1", data: [], createdTimeSec: 1 },
    ]);
    expect(bytes[0]).toBe(0xf9);
    expect(bytes[bytes.length - 1]).toBe(0x0a);
    expect(bytes.subarray(1).toString("utf8")).toBe(
      '[{"ip":"203.0.113.7","data1":"a","data2":"b","data3":"","data4":"","data5":"","data6":"","data7":"","data8":"h","createdTime":1700000000},' +
        '{"ip":"198.51.100.1","data1":"","data2":"","data3":"","data4":"","data5":"","data6":"","data7":"","data8":"","createdTime":1}]\n',
    );
  });

  it("-7 with no servers is an empty JSON array", () => {
    expect(encodeLobby([])).toEqual(Buffer.concat([hex("F9"), Buffer.from("[]\n")]));
  });

  it("-7 escapes quotes and control characters in lobby data", () => {
    const bytes = encodeLobby([{ ip: "10.0.0.1", data: ['say "hi"\\'], createdTimeSec: 5 }]);
    const parsed = JSON.parse(bytes.subarray(1).toString("utf8")) as Array<Record<string, unknown>>;
    expect(parsed[0]?.data1).toBe('say "hi"\\');
    expect(bytes.subarray(1, bytes.length - 1).includes(0x0a)).toBe(false);
  });

  it("-7 within a byte bound skips an entry that does not fit and keeps those after it", () => {
    const small = (ip: string) => ({ ip, data: [], createdTimeSec: 1 });
    // Escaping doubles the quotes: the padded entry is over 1,000 bytes of JSON.
    const padded = { ip: "10.0.0.9", data: ['"'.repeat(500)], createdTimeSec: 2 };
    const { reply, included } = encodeLobbyWithin(
      [small("10.0.0.1"), padded, small("10.0.0.2")],
      600,
    );
    expect(reply.length).toBeLessThanOrEqual(600);
    expect(included).toBe(2);
    const parsed = JSON.parse(reply.subarray(1).toString("utf8")) as Array<{ ip: string }>;
    expect(parsed.map((row) => row.ip)).toEqual(["10.0.0.1", "10.0.0.2"]);
  });

  it("-7 within a byte bound is a prefix of the order: an entry that fits alone but not in what is left ends the reply", () => {
    const sized = (ip: string, n: number) => ({ ip, data: ["x".repeat(n)], createdTimeSec: 1 });
    // Two 400-byte rows do not fit together in 800; the small third would, but is not sent.
    const { reply, included } = encodeLobbyWithin(
      [sized("10.0.0.1", 400), sized("10.0.0.2", 400), sized("10.0.0.3", 10)],
      800,
    );
    expect(included).toBe(1);
    const parsed = JSON.parse(reply.subarray(1).toString("utf8")) as Array<{ ip: string }>;
    expect(parsed.map((row) => row.ip)).toEqual(["10.0.0.1"]);
  });

  it("-8 is F8 then one byte 1 or 0", () => {
    expect(encodeIsTesting(false)).toEqual(hex("F8 00"));
    expect(encodeIsTesting(true)).toEqual(hex("F8 01"));
  });

  it("-9 outside testing mode is F7 then one 0 byte", () => {
    expect(encodeTestingInfosOff()).toEqual(hex("F7 00"));
  });

  it("-10 is F6 then the version ending with LF", () => {
    expect(encodeVersion("1.2.5")).toEqual(Buffer.concat([hex("F6"), Buffer.from("1.2.5\n")]));
  });
});

describe("MasterReplyParser", () => {
  it("parses -1, -2 and -7 replies merged in one chunk or split anywhere", () => {
    const stream = Buffer.concat([
      encodePeerFound("10.0.0.1", 1234),
      encodeServerNotFound(),
      encodeLobby([{ ip: "10.0.0.2", data: [], createdTimeSec: 3 }]),
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const parser = new MasterReplyParser();
      const replies = [
        ...parser.push(stream.subarray(0, cut)),
        ...parser.push(stream.subarray(cut)),
      ];
      expect(replies.map((reply) => reply.kind)).toEqual(["peer", "not-found", "lobby"]);
      expect(replies[0]).toEqual({ kind: "peer", ip: "10.0.0.1", port: 1234 });
    }
  });
});
