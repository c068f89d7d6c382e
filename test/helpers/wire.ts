// Exact reply bytes written out by hand from PROTOCOL.md (not with our encoders),
// and GML-style request bytes for raw sockets.
export function peerReply(ip: string, port: number): Buffer {
  return Buffer.concat([Buffer.from([0xff]), Buffer.from(`${ip}\0${port}\0`, "utf8")]);
}

export const NOT_FOUND = Buffer.from([0xfe]);

export const UDP_REG = Buffer.from("reg\n\0", "utf8");
export const UDP_CONNECT = Buffer.from("connect\n\0", "utf8");

export function tcpReg2(version: string, data: string[]): Buffer {
  const fields = Array.from({ length: 8 }, (_, i) => data[i] ?? "");
  return Buffer.from(["reg2", version, ...fields].map((text) => `${text}\n\0`).join(""), "utf8");
}

export function tcpConnect(serverIp: string): Buffer {
  return Buffer.from(`connect\n${serverIp}\n\0`, "utf8");
}

export function tcpLobby2(
  filters: string[] = [],
  sortBy = "date",
  direction = "DESC",
  limit = "",
): Buffer {
  const fields = Array.from({ length: 8 }, (_, i) => filters[i] ?? "");
  return Buffer.from(
    ["lobby2", ...fields, sortBy, direction, limit].map((text) => `${text}\n\0`).join(""),
    "utf8",
  );
}

const PROXY_V2_SIGNATURE = Buffer.from("0D0A0D0A000D0A515549540A", "hex");

/** A PROXY protocol v2 header (PROXY command, or LOCAL) naming `source` (4 or 16 address bytes). */
export function proxyV2Header(
  family: "tcp4" | "tcp6" | "local",
  source?: Buffer,
  sourcePort = 0,
): Buffer {
  const addressBytes = family === "tcp4" ? 12 : family === "tcp6" ? 36 : 0;
  const header = Buffer.alloc(16 + addressBytes);
  PROXY_V2_SIGNATURE.copy(header, 0);
  header[12] = family === "local" ? 0x20 : 0x21;
  header[13] = family === "tcp4" ? 0x11 : family === "tcp6" ? 0x21 : 0x00;
  header.writeUInt16BE(addressBytes, 14);
  if (source) source.copy(header, 16);
  if (family === "tcp4") header.writeUInt16BE(sourcePort, 24);
  if (family === "tcp6") header.writeUInt16BE(sourcePort, 48);
  return header;
}
