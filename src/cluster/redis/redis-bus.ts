// The Bus on Redis pub/sub: one channel per node. PUBLISH's receiver count is
// the delivery signal ("0 = the owner is gone"); on Redis Cluster that count
// is only sound with sharded pub/sub (SPUBLISH/SSUBSCRIBE), which we use there.
import type { Logger } from "pino";
import type { MasterMetrics } from "../../metrics.js";
import type { Bus, NodeMessage } from "../types.js";
import type { RedisKeys } from "./keys.js";
import type { RedisConnection } from "./redis-connection.js";
import type { ClientUdpWakeups } from "./redis-registry.js";

/** What travels on a node's channel: routed messages, and wake-ups for waiting connects. */
type ChannelMessage = NodeMessage | { type: "client-udp"; ip: string };

function parseChannelMessage(text: string): ChannelMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const m = value as Record<string, unknown>;
  const isString = (key: string) => typeof m[key] === "string";
  switch (m.type) {
    case "client-udp":
      return isString("ip") ? { type: "client-udp", ip: m.ip as string } : null;
    case "superseded":
      return isString("serverIp") && isString("ownerConnectionId")
        ? {
            type: "superseded",
            serverIp: m.serverIp as string,
            ownerConnectionId: m.ownerConnectionId as string,
          }
        : null;
    case "peer-found":
      return isString("serverIp") &&
        isString("ownerConnectionId") &&
        isString("clientIp") &&
        Number.isInteger(m.clientUdpPort)
        ? {
            type: "peer-found",
            serverIp: m.serverIp as string,
            ownerConnectionId: m.ownerConnectionId as string,
            clientIp: m.clientIp as string,
            clientUdpPort: m.clientUdpPort as number,
          }
        : null;
    default:
      return null;
  }
}

export class RedisBus implements Bus {
  private handler: ((message: NodeMessage) => void) | null = null;
  private readonly channel: string;
  private readonly onRawMessage = (channel: string | Buffer, text: string | Buffer) => {
    if (String(channel) !== this.channel) return;
    const message = parseChannelMessage(String(text));
    if (!message) {
      this.metrics.badInput.inc({ reason: "bus_message" });
      this.logger.warn({ channel: String(channel) }, "ignored malformed bus message");
      return;
    }
    if (message.type === "client-udp") this.wakeups.wake(message.ip);
    else this.handler?.(message);
  };

  constructor(
    private readonly connection: RedisConnection,
    private readonly keys: RedisKeys,
    nodeId: string,
    private readonly wakeups: ClientUdpWakeups,
    private readonly metrics: MasterMetrics,
    private readonly logger: Logger,
  ) {
    this.channel = keys.nodeChannel(nodeId);
  }

  async start(): Promise<void> {
    const subscriber = this.connection.subscriber;
    if (this.connection.sharded) {
      subscriber.on("smessage", this.onRawMessage);
      await subscriber.ssubscribe(this.channel);
    } else {
      subscriber.on("message", this.onRawMessage);
      await subscriber.subscribe(this.channel);
    }
  }

  async send(nodeId: string, message: NodeMessage): Promise<boolean> {
    const channel = this.keys.nodeChannel(nodeId);
    const text = JSON.stringify(message);
    const receivers: unknown = this.connection.sharded
      ? await this.connection.commands.spublish(channel, text)
      : await this.connection.commands.publish(channel, text);
    return Number(receivers) > 0;
  }

  onMessage(handler: (message: NodeMessage) => void): void {
    this.handler = handler;
  }

  async close(): Promise<void> {
    this.handler = null;
    const subscriber = this.connection.subscriber;
    subscriber.off("message", this.onRawMessage);
    subscriber.off("smessage", this.onRawMessage);
  }
}
