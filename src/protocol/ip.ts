// Canonical text form of IP addresses, so "::ffff:203.0.113.7", "203.0.113.7"
// and an upper-case IPv6 all name the same registration; CIDR ranges; and the
// source key every per-source limit counts by (IPv6 grouped by prefix).
import { isIP } from "node:net";

const V4_MAPPED_PREFIX = "::ffff:";

/** Returns the canonical form of an IPv4/IPv6 address, or null if it is not one. */
export function normalizeIp(raw: string): string | null {
  let ip = raw.trim();
  if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
  const zone = ip.indexOf("%");
  if (zone >= 0) ip = ip.slice(0, zone);
  const family = isIP(ip);
  if (family === 4) return ip;
  if (family !== 6) return null;
  const lower = ip.toLowerCase();
  if (lower.startsWith(V4_MAPPED_PREFIX) && isIP(lower.slice(V4_MAPPED_PREFIX.length)) === 4) {
    return lower.slice(V4_MAPPED_PREFIX.length);
  }
  // The WHATWG URL parser prints IPv6 in its compressed canonical form.
  const canonical = new URL(`http://[${lower}]/`).hostname.slice(1, -1);
  // A v4-mapped address written in hex (e.g. from a PROXY v2 TCP6 header) is still IPv4.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped) {
    const high = Number.parseInt(mapped[1] as string, 16);
    const low = Number.parseInt(mapped[2] as string, 16);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
  }
  return canonical;
}

/** An address range: `10.0.0.0/8`, `fd00::/8`, or one address (a full-length prefix). */
export interface Cidr {
  family: 4 | 6;
  /** Canonical address as written (not masked). */
  address: string;
  prefixLength: number;
}

export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf("/");
  const address = normalizeIp(slash >= 0 ? text.slice(0, slash) : text);
  if (address === null) return null;
  const family = isIP(address) === 4 ? 4 : 6;
  const maxLength = family === 4 ? 32 : 128;
  const lengthText = slash >= 0 ? text.slice(slash + 1) : String(maxLength);
  if (!/^\d{1,3}$/.test(lengthText)) return null;
  const prefixLength = Number(lengthText);
  if (prefixLength > maxLength) return null;
  return { family, address, prefixLength };
}

/** The 16 bytes of a canonical IPv6 address (as normalizeIp returns it). */
function ipv6Bytes(ip: string): Uint8Array {
  const [head = "", tail] = ip.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((group: string, i) => {
    const value = Number.parseInt(group, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  });
  return bytes;
}

/**
 * The key a per-source limit counts by: an IPv4 address as is, an IPv6
 * address by its first `ipv6PrefixLength` bits (one home or one cloud VM
 * holds a whole /64, so counting per /128 would count nothing).
 * `ip` must be canonical (normalizeIp).
 */
export function sourceKey(ip: string, ipv6PrefixLength: number): string {
  if (ipv6PrefixLength >= 128 || !ip.includes(":")) return ip;
  const bytes = ipv6Bytes(ip);
  let hex = "";
  for (let bit = 0; bit < ipv6PrefixLength; bit += 4) {
    const byte = bytes[bit >> 3] as number;
    let nibble = bit % 8 === 0 ? byte >> 4 : byte & 0x0f;
    const keep = ipv6PrefixLength - bit;
    if (keep < 4) nibble &= (0xf << (4 - keep)) & 0xf;
    hex += nibble.toString(16);
  }
  return `${hex}/${ipv6PrefixLength}`;
}

/** The network an address belongs to, as text: `203.0.113.0/24`, `2001:db8:1::/48`. */
export function networkOf(ip: string, ipv4Bits: number, ipv6Bits: number): string {
  if (!ip.includes(":")) {
    const octets = ip.split(".").map(Number);
    const masked = octets.map((octet, i) => {
      const keep = Math.max(0, Math.min(8, ipv4Bits - i * 8));
      return octet & ((0xff << (8 - keep)) & 0xff);
    });
    return `${masked.join(".")}/${ipv4Bits}`;
  }
  const bytes = ipv6Bytes(ip);
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) {
    let value = ((bytes[i * 2] as number) << 8) | (bytes[i * 2 + 1] as number);
    const keep = Math.max(0, Math.min(16, ipv6Bits - i * 16));
    value &= (0xffff << (16 - keep)) & 0xffff;
    groups.push(value.toString(16));
  }
  return `${normalizeIp(groups.join(":")) ?? groups.join(":")}/${ipv6Bits}`;
}
