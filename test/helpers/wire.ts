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
