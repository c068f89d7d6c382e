// PROXY protocol header parser (pure): lets the master see the real game
// address behind a load balancer that prepends one (HAProxy and AWS NLB send
// v2; nginx's stream module and a Classic ELB send the text v1). Which
// versions are accepted is the caller's choice.
import { isIP } from "node:net";
const SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const FIXED_HEADER_BYTES = 16;
/** Longest header we accept (addresses plus TLVs); anything longer is not a sane proxy. */
export const MAX_PROXY_HEADER_BYTES = 536;
const V1_PREFIX = Buffer.from("PROXY ", "ascii");
/** The v1 spec's limit, CRLF included. */
const MAX_V1_HEADER_BYTES = 107;

export type ProxyHeaderResult =
  | { status: "need-more" }
  | { status: "error"; message: string }
  /** `source` is null for LOCAL (health checks) and unknown families: keep the socket's own address. */
  | { status: "ok"; headerBytes: number; source: { ip: string; port: number } | null };

export type ProxyVersions = "v1" | "v2" | "on";

/** Parses a header at the start of `bytes`: v1 or v2 only, or either with "on". */
export function parseProxyHeader(bytes: Buffer, versions: ProxyVersions = "on"): ProxyHeaderResult {
  const prefixBytes = Math.min(bytes.length, V1_PREFIX.length);
  const looksV1 =
    prefixBytes > 0 && bytes.subarray(0, prefixBytes).equals(V1_PREFIX.subarray(0, prefixBytes));
  if (looksV1) {
    return versions === "v2"
      ? { status: "error", message: "PROXY v1 header where v2 is expected" }
      : parseProxyV1Header(bytes);
  }
  if (versions === "v1") return { status: "error", message: "missing PROXY protocol v1 header" };
  return parseProxyV2Header(bytes);
}

/** A decimal port as the v1 spec writes it: 0..65535, no sign, no leading zeros. */
function v1Port(text: string | undefined): number | null {
  if (text === undefined || !/^(0|[1-9]\d{0,4})$/.test(text)) return null;
  const port = Number(text);
  return port <= 65535 ? port : null;
}

export function parseProxyV1Header(bytes: Buffer): ProxyHeaderResult {
  const end = bytes.indexOf("\r\n");
  if (end < 0) {
    return bytes.length >= MAX_V1_HEADER_BYTES
      ? { status: "error", message: "PROXY v1 header too long" }
      : { status: "need-more" };
  }
  const headerBytes = end + 2;
  if (headerBytes > MAX_V1_HEADER_BYTES)
    return { status: "error", message: "PROXY v1 header too long" };
  const parts = bytes.toString("ascii", 0, end).split(" ");
  if (parts[1] === "UNKNOWN") return { status: "ok", headerBytes, source: null };
  if ((parts[1] !== "TCP4" && parts[1] !== "TCP6") || parts.length !== 6) {
    return { status: "error", message: "malformed PROXY v1 header" };
  }
  // Both addresses must be literal addresses of the family the header names.
  const family = parts[1] === "TCP4" ? 4 : 6;
  if (isIP(parts[2] as string) !== family || isIP(parts[3] as string) !== family) {
    return { status: "error", message: `bad ${parts[1]} address in PROXY v1 header` };
  }
  const port = v1Port(parts[4]);
  if (port === null || v1Port(parts[5]) === null) {
    return { status: "error", message: "bad port in PROXY v1 header" };
  }
  return { status: "ok", headerBytes, source: { ip: parts[2] as string, port } };
}

export function parseProxyV2Header(bytes: Buffer): ProxyHeaderResult {
  const signatureBytes = Math.min(bytes.length, SIGNATURE.length);
  if (!bytes.subarray(0, signatureBytes).equals(SIGNATURE.subarray(0, signatureBytes))) {
    return { status: "error", message: "missing PROXY protocol v2 signature" };
  }
  if (bytes.length < FIXED_HEADER_BYTES) return { status: "need-more" };
  const versionCommand = bytes[12] as number;
  if (versionCommand >> 4 !== 2)
    return { status: "error", message: "PROXY protocol version is not 2" };
  const command = versionCommand & 0x0f;
  const family = (bytes[13] as number) >> 4;
  const addressBytes = bytes.readUInt16BE(14);
  const headerBytes = FIXED_HEADER_BYTES + addressBytes;
  if (headerBytes > MAX_PROXY_HEADER_BYTES)
    return { status: "error", message: "PROXY header too long" };
  if (bytes.length < headerBytes) return { status: "need-more" };
  if (command === 0x0) return { status: "ok", headerBytes, source: null }; // LOCAL
  if (command !== 0x1) return { status: "error", message: `unknown PROXY command ${command}` };
  if (family === 0x1 && addressBytes >= 12) {
    const ip = Array.from(bytes.subarray(16, 20)).join(".");
    return { status: "ok", headerBytes, source: { ip, port: bytes.readUInt16BE(24) } };
  }
  if (family === 0x2 && addressBytes >= 36) {
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(bytes.readUInt16BE(16 + i * 2).toString(16));
    return {
      status: "ok",
      headerBytes,
      source: { ip: groups.join(":"), port: bytes.readUInt16BE(48) },
    };
  }
  return { status: "ok", headerBytes, source: null };
}
