// Every message that travels on a node's channel, encoded and decoded here:
// routed game messages (a -1 for a server socket, "your socket was
// superseded"), and the store's wake-ups (a client's UDP port handed to a
// waiting connect; a server registered again). Two are composed inside Lua
// scripts (record-client-udp, register-server): their JSON shape is the one
// decoded below, and the contract tests send them through the real scripts.
import type { NodeMessage } from "../types.js";

export type ChannelMessage =
  | NodeMessage
  /** `port`: the client's UDP port, or "busy" when the server's backlog was full (record-client-udp). */
  | { type: "client-udp"; waiterId: string; port: number | "busy" }
  | { type: "server-registered"; ip: string };

export function encodeChannelMessage(message: ChannelMessage): string {
  return JSON.stringify(message);
}

export function decodeChannelMessage(text: string): ChannelMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const m = value as Record<string, unknown>;
  const text_ = (key: string): string | null =>
    typeof m[key] === "string" ? (m[key] as string) : null;
  const port = (key: string): number | null => {
    const n = m[key];
    return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 65535 ? n : null;
  };
  switch (m.type) {
    case "client-udp": {
      const waiterId = text_("waiterId");
      const udpPort = m.port === "busy" ? "busy" : port("port");
      return waiterId !== null && udpPort !== null
        ? { type: "client-udp", waiterId, port: udpPort }
        : null;
    }
    case "server-registered": {
      const ip = text_("ip");
      return ip !== null ? { type: "server-registered", ip } : null;
    }
    case "superseded": {
      const serverIp = text_("serverIp");
      const ownerConnectionId = text_("ownerConnectionId");
      return serverIp !== null && ownerConnectionId !== null
        ? { type: "superseded", serverIp, ownerConnectionId }
        : null;
    }
    case "peer-found": {
      const serverIp = text_("serverIp");
      const ownerConnectionId = text_("ownerConnectionId");
      const clientIp = text_("clientIp");
      const clientUdpPort = port("clientUdpPort");
      return serverIp !== null &&
        ownerConnectionId !== null &&
        clientIp !== null &&
        clientUdpPort !== null
        ? { type: "peer-found", serverIp, ownerConnectionId, clientIp, clientUdpPort }
        : null;
    }
    default:
      return null;
  }
}
