// The Bus on Redis pub/sub: one channel per node. The publish's receiver count
// is the delivery signal ("0 = the owner is gone"), sound with the pub/sub
// flavour chosen for the topology. The same channel carries the store's
// wake-ups for this node's waiting connects.
import type { Logger } from "pino";
import type { BadInputLog } from "../../bad-input-log.js";
import type { Bus, NodeMessage } from "../types.js";
import type { RedisKeys } from "./keys.js";
import { decodeChannelMessage, encodeChannelMessage } from "./node-messages.js";
import type { PubSub } from "./pubsub.js";
import type { StoreWakeups } from "./store-wakeups.js";

export class RedisBus implements Bus {
  private handler: ((message: NodeMessage) => void) | null = null;

  constructor(
    private readonly pubsub: PubSub,
    private readonly keys: RedisKeys,
    private readonly nodeId: string,
    private readonly wakeups: StoreWakeups,
    private readonly badInput: BadInputLog,
    private readonly logger: Logger,
  ) {}

  start(): Promise<void> {
    const channel = this.keys.nodeChannel(this.nodeId);
    return this.pubsub.subscribe(channel, (text) => {
      const message = decodeChannelMessage(text);
      if (!message) {
        this.badInput.report(
          "bus_message",
          "ignored malformed bus message",
          { channel },
          this.logger,
        );
        return;
      }
      switch (message.type) {
        case "client-udp":
          this.wakeups.clientPorts.fire(message.waiterId, message.port);
          return;
        case "server-registered":
          this.wakeups.servers.fire(message.ip, true);
          return;
        default:
          this.handler?.(message);
      }
    });
  }

  async send(nodeId: string, message: NodeMessage): Promise<boolean> {
    const receivers = await this.pubsub.publish(
      this.keys.nodeChannel(nodeId),
      encodeChannelMessage(message),
    );
    return receivers > 0;
  }

  onMessage(handler: (message: NodeMessage) => void): void {
    this.handler = handler;
  }

  async close(): Promise<void> {
    this.handler = null;
    this.pubsub.close();
  }
}
