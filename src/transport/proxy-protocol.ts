// PROXY protocol header parser (pure): lets the master see the real game
// address behind a load balancer that prepends one (HAProxy and AWS NLB send
// v2; nginx's stream module sends the text v1). Both are accepted.
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

/** Parses a v1 or v2 header at the start of `bytes`. */
export function parseProxyHeader(bytes: Buffer): ProxyHeaderResult {
  const prefixBytes = Math.min(bytes.length, V1_PREFIX.length);
  if (
    prefixBytes > 0 &&
    bytes.subarray(0, prefixBytes).equals(V1_PREFIX.subarray(0, prefixBytes))
  ) {
    return parseProxyV1Header(bytes);
  }
  return parseProxyV2Header(bytes);
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
  const port = Number(parts[4]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return { status: "error", message: "bad source port in PROXY v1 header" };
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
