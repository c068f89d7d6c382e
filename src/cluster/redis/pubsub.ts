// How a node's channel is published and subscribed: classic pub/sub on a
// single Redis or Sentinel, sharded pub/sub (Redis 7) on Redis Cluster, where a
// classic PUBLISH is broadcast to every shard and its receiver count covers
// only one. Chosen once (redis-backend.ts); the two flavours are siblings over
// the shared part below.
import type { RedisClient } from "./redis-script.js";

export interface PubSub {
  /** The command scripts use to wake a node from inside Redis. */
  readonly publishCommand: "publish" | "spublish";
  /** Subscribes (again, after a failed attempt: the handler is set once). */
  subscribe(channel: string, onMessage: (text: string) => void): Promise<void>;
  /** Resolves with how many subscribers received it (0: nobody listens on that channel). */
  publish(channel: string, text: string): Promise<number>;
  /** Stops delivering to the handler (the connection itself is closed by its owner). */
  close(): void;
}

type Listener = (from: string | Buffer, text: string | Buffer) => void;

/** One handler on the subscriber connection, filtered to the node's own channel. */
export abstract class NodeChannelPubSub implements PubSub {
  abstract readonly publishCommand: "publish" | "spublish";
  /** The subscriber connection's event for this flavour's messages. */
  protected abstract readonly messageEvent: "message" | "smessage";
  private listener: Listener | null = null;

  constructor(
    protected readonly commands: RedisClient,
    protected readonly subscriber: RedisClient,
  ) {}

  protected abstract subscribeChannel(channel: string): Promise<unknown>;
  protected abstract publishText(channel: string, text: string): Promise<unknown>;

  async subscribe(channel: string, onMessage: (text: string) => void): Promise<void> {
    if (this.listener) this.subscriber.off(this.messageEvent, this.listener);
    this.listener = (from, text) => {
      if (String(from) === channel) onMessage(String(text));
    };
    this.subscriber.on(this.messageEvent, this.listener);
    await this.subscribeChannel(channel);
  }

  async publish(channel: string, text: string): Promise<number> {
    return Number(await this.publishText(channel, text));
  }

  close(): void {
    if (this.listener) this.subscriber.off(this.messageEvent, this.listener);
    this.listener = null;
  }
}
