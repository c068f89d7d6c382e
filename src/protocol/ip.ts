// Canonical text form of IP addresses, so "::ffff:203.0.113.7", "203.0.113.7"
// and an upper-case IPv6 all name the same registration.
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
