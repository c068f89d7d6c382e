import { describe, expect, it } from "vitest";
import { normalizeIp, parseCidr, sourceKey } from "../../src/protocol/index.js";

describe("normalizeIp", () => {
  it("keeps IPv4 as is (trimmed)", () => {
    expect(normalizeIp("203.0.113.7")).toBe("203.0.113.7");
    expect(normalizeIp(" 10.0.0.1\t")).toBe("10.0.0.1");
  });

  it("turns IPv4-mapped IPv6 into plain IPv4, in dotted and hex form", () => {
    expect(normalizeIp("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(normalizeIp("::FFFF:127.0.0.2")).toBe("127.0.0.2");
    expect(normalizeIp("::ffff:cb00:7107")).toBe("203.0.113.7");
    // What a PROXY v2 header's TCP6 address prints as before normalising.
    expect(normalizeIp("0:0:0:0:0:ffff:7f00:1")).toBe("127.0.0.1");
  });

  it("prints IPv6 in its compressed lower-case canonical form", () => {
    expect(normalizeIp("2001:0DB8:0000:0000:0000:0000:0000:0001")).toBe("2001:db8::1");
    expect(normalizeIp("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(normalizeIp("[2001:db8::1]")).toBe("2001:db8::1");
    expect(normalizeIp("fe80::1%eth0")).toBe("fe80::1");
    expect(normalizeIp("::1")).toBe("::1");
  });

  it("the same address written differently normalises to one string", () => {
    const forms = ["2001:db8::a", "2001:DB8:0:0:0:0:0:A", "[2001:db8:0::a]"];
    expect(new Set(forms.map(normalizeIp))).toEqual(new Set(["2001:db8::a"]));
  });

  it("returns null for anything that is not an IP address", () => {
    for (const garbage of [
      "",
      "localhost",
      "256.1.1.1",
      "1.2.3",
      "1.2.3.4.5",
      "::ffff:",
      "gg::1",
      "1.2.3.4:80",
      "[]",
    ]) {
      expect(normalizeIp(garbage)).toBeNull();
    }
  });
});

describe("sourceKey (what every per-source limit counts by)", () => {
  it("keeps IPv4 addresses as they are", () => {
    expect(sourceKey("203.0.113.7", 64)).toBe("203.0.113.7");
  });

  it("groups IPv6 addresses by their prefix, /64 by default", () => {
    const a = sourceKey(normalizeIp("2001:db8:1:2::1") as string, 64);
    const b = sourceKey(normalizeIp("2001:db8:1:2:ffff:eeee:dddd:cccc") as string, 64);
    const other = sourceKey(normalizeIp("2001:db8:1:3::1") as string, 64);
    expect(a).toBe(b);
    expect(a).not.toBe(other);
    expect(a).toBe("20010db800010002/64");
  });

  it("honours prefixes that do not end on a nibble, and /128 keeps the full address", () => {
    expect(sourceKey("2001:db8::1", 30)).toBe(sourceKey("2001:db9::1", 30));
    expect(sourceKey("2001:db8::1", 32)).not.toBe(sourceKey("2001:db9::1", 32));
    expect(sourceKey("2001:db8::1", 128)).toBe("2001:db8::1");
  });
});

describe("parseCidr", () => {
  it("reads ranges and single addresses, and refuses impossible prefixes", () => {
    expect(parseCidr("10.0.0.0/8")).toEqual({ family: 4, address: "10.0.0.0", prefixLength: 8 });
    expect(parseCidr("fd00::/8")).toEqual({ family: 6, address: "fd00::", prefixLength: 8 });
    expect(parseCidr("192.0.2.1")).toEqual({ family: 4, address: "192.0.2.1", prefixLength: 32 });
    expect(parseCidr("10.0.0.0/33")).toBeNull();
    expect(parseCidr("10.0.0.0/x")).toBeNull();
    expect(parseCidr("example.com/8")).toBeNull();
  });
});
