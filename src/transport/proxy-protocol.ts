// PROXY protocol v2 header parser (pure): lets the master see the real game
// address behind HAProxy, nginx or a cloud load balancer that prepends it.
const SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const FIXED_HEADER_BYTES = 16;
/** Longest header we accept (addresses plus TLVs); anything longer is not a sane proxy. */
export const MAX_PROXY_HEADER_BYTES = 536;

export type ProxyHeaderResult =
  | { status: "need-more" }
  | { status: "error"; message: string }
  /** `source` is null for LOCAL (health checks) and unknown families: keep the socket's own address. */
  | { status: "ok"; headerBytes: number; source: { ip: string; port: number } | null };

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
