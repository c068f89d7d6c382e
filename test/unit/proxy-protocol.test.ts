import { describe, expect, it } from "vitest";
import { MAX_PROXY_HEADER_BYTES, parseProxyV2Header } from "../../src/transport/proxy-protocol.js";

const SIGNATURE = Buffer.from("0D0A0D0A000D0A515549540A", "hex");

function header(command: number, family: number, addresses: Buffer): Buffer {
  const fixed = Buffer.alloc(4);
  fixed[0] = 0x20 | command;
  fixed[1] = family;
  fixed.writeUInt16BE(addresses.length, 2);
  return Buffer.concat([SIGNATURE, fixed, addresses]);
}

function tcp4(src: string, srcPort: number, dst = "10.0.0.1", dstPort = 6510): Buffer {
  const addresses = Buffer.alloc(12);
  Buffer.from(src.split(".").map(Number)).copy(addresses, 0);
  Buffer.from(dst.split(".").map(Number)).copy(addresses, 4);
  addresses.writeUInt16BE(srcPort, 8);
  addresses.writeUInt16BE(dstPort, 10);
  return header(0x1, 0x11, addresses);
}

function tcp6(srcGroups: number[], srcPort: number): Buffer {
  const addresses = Buffer.alloc(36);
  for (const [i, group] of srcGroups.entries()) addresses.writeUInt16BE(group, i * 2);
  addresses.writeUInt16BE(1, 30); // destination ::1
  addresses.writeUInt16BE(srcPort, 32);
  addresses.writeUInt16BE(6510, 34);
  return header(0x1, 0x21, addresses);
}

describe("parseProxyV2Header", () => {
  it("reads the source address and port of a TCP4 PROXY header", () => {
    const bytes = tcp4("203.0.113.7", 51234);
    expect(parseProxyV2Header(bytes)).toEqual({
      status: "ok",
      headerBytes: 28,
      source: { ip: "203.0.113.7", port: 51234 },
    });
  });

  it("reads the source address and port of a TCP6 PROXY header", () => {
    const bytes = tcp6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x42], 4000);
    const parsed = parseProxyV2Header(bytes);
    expect(parsed).toMatchObject({ status: "ok", headerBytes: 52, source: { port: 4000 } });
    // The transport normalises the text; the groups must name 2001:db8::42.
    if (parsed.status !== "ok" || !parsed.source) throw new Error("no source");
    expect(parsed.source.ip.split(":").map((g) => Number.parseInt(g, 16))).toEqual([
      0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x42,
    ]);
  });

  it("reports the header length so the game bytes after it are kept", () => {
    const game = Buffer.from("reg\n\0");
    const bytes = Buffer.concat([tcp4("198.51.100.9", 1), game]);
    const parsed = parseProxyV2Header(bytes);
    if (parsed.status !== "ok") throw new Error(parsed.status);
    expect(bytes.subarray(parsed.headerBytes)).toEqual(game);
  });

  it("LOCAL (health check) keeps the socket's own address", () => {
    expect(parseProxyV2Header(header(0x0, 0x00, Buffer.alloc(0)))).toEqual({
      status: "ok",
      headerBytes: 16,
      source: null,
    });
  });

  it("an unknown address family keeps the socket's own address", () => {
    expect(parseProxyV2Header(header(0x1, 0x31, Buffer.alloc(216)))).toMatchObject({
      status: "ok",
      headerBytes: 232,
      source: null,
    });
  });

  it("a header split at any byte asks for more until complete", () => {
    const bytes = tcp4("203.0.113.7", 51234);
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(parseProxyV2Header(bytes.subarray(0, cut))).toEqual({ status: "need-more" });
    }
    expect(parseProxyV2Header(bytes)).toMatchObject({ status: "ok" });
  });

  it("a game command where a header should be is an error at the first byte", () => {
    expect(parseProxyV2Header(Buffer.from("reg\n\0"))).toMatchObject({ status: "error" });
    expect(parseProxyV2Header(Buffer.from("r"))).toMatchObject({ status: "error" });
  });

  it("a PROXY v1 text header is an error", () => {
    expect(parseProxyV2Header(Buffer.from("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"))).toMatchObject({
      status: "error",
    });
  });

  it("a wrong version, an unknown command and an oversized length are errors", () => {
    const wrongVersion = tcp4("1.2.3.4", 1);
    wrongVersion[12] = 0x11;
    expect(parseProxyV2Header(wrongVersion)).toMatchObject({ status: "error" });
    expect(parseProxyV2Header(header(0x2, 0x11, Buffer.alloc(12)))).toMatchObject({
      status: "error",
    });
    const huge = header(0x1, 0x11, Buffer.alloc(0));
    huge.writeUInt16BE(MAX_PROXY_HEADER_BYTES, 14);
    expect(parseProxyV2Header(huge)).toMatchObject({
      status: "error",
      message: "PROXY header too long",
    });
  });
});
