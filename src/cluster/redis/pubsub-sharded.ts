// Sharded pub/sub (SSUBSCRIBE / SPUBLISH, Redis 7): on Redis Cluster a node's
// channel lives on one shard, so SPUBLISH's receiver count is the truth.
import { NodeChannelPubSub } from "./pubsub.js";

export class ShardedPubSub extends NodeChannelPubSub {
  readonly publishCommand = "spublish";
  protected readonly messageEvent = "smessage";

  protected subscribeChannel(channel: string): Promise<unknown> {
    return this.subscriber.ssubscribe(channel);
  }

  protected publishText(channel: string, text: string): Promise<unknown> {
    return this.commands.spublish(channel, text);
  }
}
