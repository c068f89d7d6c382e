// Per-source limits for the commands that cost the node real work: connect
// (store round trips, a -1 each way) and lobby2 (a reply of up to a TCP
// segment) by rate, registrations by count. Beyond its rate a source is still
// answered, as a game must be (GML never times out), but cheaply: -2, or an
// empty lobby. One IPv4 address can only register one server; an IPv6 prefix
// could register one per address without the count.
import { sourceKey } from "../protocol/index.js";
import { TokenBuckets } from "../transport/token-buckets.js";

export interface AdmissionOptions {
  connectRatePerSource: number;
  lobbyRatePerSource: number;
  ipv6PrefixLength: number;
  maxTrackedSources: number;
  maxServersPerSource: number;
}

export class Admission {
  private readonly connects: TokenBuckets;
  private readonly lobbies: TokenBuckets;
  /** Registered server sockets per source (an entry only while one is held). */
  private readonly serversPerSource = new Map<string, number>();

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

  /** Takes a registration slot for `ip`'s source; null past the cap (else the key to release). */
  admitServer(ip: string): string | null {
    const key = sourceKey(ip, this.options.ipv6PrefixLength);
    const held = this.serversPerSource.get(key) ?? 0;
    if (held >= this.options.maxServersPerSource) return null;
    this.serversPerSource.set(key, held + 1);
    return key;
  }

  releaseServer(key: string): void {
    const left = (this.serversPerSource.get(key) ?? 1) - 1;
    if (left <= 0) this.serversPerSource.delete(key);
    else this.serversPerSource.set(key, left);
  }
}
