// Classic pub/sub (SUBSCRIBE / PUBLISH): a single Redis or Sentinel.
import { NodeChannelPubSub } from "./pubsub.js";

export class ClassicPubSub extends NodeChannelPubSub {
  readonly publishCommand = "publish";
  protected readonly messageEvent = "message";

  protected subscribeChannel(channel: string): Promise<unknown> {
    return this.subscriber.subscribe(channel);
  }

  protected publishText(channel: string, text: string): Promise<unknown> {
    return this.commands.publish(channel, text);
  }
}
