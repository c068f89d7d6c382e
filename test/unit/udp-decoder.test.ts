import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeUdpDatagram,
  encodeUdpRequest,
  MAX_COMMAND_DATAGRAM_BYTES,
  stripGameMakerHeader,
  withGameMakerHeader,
} from "../../src/protocol/index.js";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");

describe("decodeUdpDatagram", () => {
  it("decodes reg sent with GameMaker's 12-byte network_send_udp header", () => {
    // DE C0 AD DE magic, header size 12 (u32 LE), payload length 5 (u32 LE), then "reg\n\0".
    const datagram = hex("DE C0 AD DE 0C 00 00 00 05 00 00 00 72 65 67 0A 00");
    expect(decodeUdpDatagram(datagram)).toEqual({
      ok: true,
      command: { kind: "reg" },
      hadGameMakerHeader: true,
    });
  });

  it("decodes connect without a header (raw engines, our SDK's raw mode)", () => {
    expect(decodeUdpDatagram(Buffer.from("connect\n\0"))).toEqual({
      ok: true,
      command: { kind: "connect" },
      hadGameMakerHeader: false,
    });
  });

  it("the SDK's header wrapper writes the header GameMaker writes", () => {
    expect(encodeUdpRequest("reg", true)).toEqual(
      hex("DE C0 AD DE 0C 00 00 00 05 00 00 00 72 65 67 0A 00"),
    );
    expect(encodeUdpRequest("connect", false)).toEqual(Buffer.from("connect\n\0"));
    const payload = Buffer.from("abc");
    expect(stripGameMakerHeader(withGameMakerHeader(payload))).toEqual(payload);
    expect(stripGameMakerHeader(payload)).toEqual(payload);
  });

  it("accepts CR, CRLF, trailing NULs and no line end at all", () => {
    for (const text of ["reg\r\n\0", "reg\r", "reg\0\0\0", "reg", "\n\nreg\n"]) {
      expect(decodeUdpDatagram(Buffer.from(text))).toMatchObject({
        ok: true,
        command: { kind: "reg" },
      });
    }
  });

  it("reads only the first line (trailing lines are ignored)", () => {
    expect(decodeUdpDatagram(Buffer.from("connect\n10.0.0.1\n\0"))).toMatchObject({
      ok: true,
      command: { kind: "connect" },
    });
  });

  it("an empty datagram is empty_datagram", () => {
    expect(decodeUdpDatagram(Buffer.alloc(0))).toMatchObject({
      ok: false,
      error: { code: "empty_datagram" },
    });
  });

  it("a header with no command is empty_datagram", () => {
    expect(decodeUdpDatagram(withGameMakerHeader(Buffer.from([0])))).toMatchObject({
      ok: false,
      error: { code: "empty_datagram" },
    });
  });

  it("an unknown command is unknown_command", () => {
    expect(decodeUdpDatagram(Buffer.from("lobby2\n\0"))).toMatchObject({
      ok: false,
      error: { code: "unknown_command" },
    });
  });

  it("a datagram over the size limit is bad_datagram", () => {
    const big = Buffer.concat([Buffer.from("reg\n\0"), Buffer.alloc(MAX_COMMAND_DATAGRAM_BYTES)]);
    expect(decodeUdpDatagram(big)).toMatchObject({ ok: false, error: { code: "bad_datagram" } });
  });

  it("random datagrams never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
        const result = decodeUdpDatagram(bytes);
        expect(typeof result.ok).toBe("boolean");
      }),
      { numRuns: 1000 },
    );
  });
});
