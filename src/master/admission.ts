// Per-source rates for the commands that cost the node real work: connect
// (store round trips, a -1 each way) and lobby2 (a reply of up to a TCP
// segment). Beyond its rate a source is still answered, as a game must be
// (GML never times out), but cheaply: -2, or an empty lobby.
import { sourceKey } from "../protocol/index.js";
import { TokenBuckets } from "../transport/token-buckets.js";

export interface AdmissionOptions {
  connectRatePerSource: number;
  lobbyRatePerSource: number;
  ipv6PrefixLength: number;
  maxTrackedSources: number;
}

export class Admission {
  private readonly connects: TokenBuckets;
  private readonly lobbies: TokenBuckets;

  constructor(private readonly options: AdmissionOptions) {
    this.connects = new TokenBuckets(options.connectRatePerSource, options.maxTrackedSources);
    this.lobbies = new TokenBuckets(options.lobbyRatePerSource, options.maxTrackedSources);
  }

  allowConnect(ip: string): boolean {
    return this.connects.allow(sourceKey(ip, this.options.ipv6PrefixLength));
  }

  allowLobby(ip: string): boolean {
    return this.lobbies.allow(sourceKey(ip, this.options.ipv6PrefixLength));
  }
}
