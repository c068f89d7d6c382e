// pino loggers, and how game IPs appear in logs (as is, hashed or truncated).
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import pino, { type Logger } from "pino";
import type { LogIpMode } from "./config/index.js";
import { networkOf, normalizeIp } from "./protocol/ip.js";

export type { Logger } from "pino";

export function createLogger(level: string, pretty: boolean): Logger {
  if (pretty) {
    return pino({
      level,
      transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss.l" } },
    });
  }
  return pino({ level });
}

export type IpFormatter = (ip: string) => string;

export function ipFormatter(mode: LogIpMode): IpFormatter {
  switch (mode) {
    case "full":
      return (ip) => ip;
    case "hash":
      return (ip) => `ip-${createHash("sha256").update(ip).digest("hex").slice(0, 12)}`;
    case "truncate":
      return (ip) => (isIP(ip) === 0 ? ip : networkOf(normalizeIp(ip) ?? ip, 24, 48));
    default: {
      const unreachable: never = mode;
      return unreachable;
    }
  }
}
