// Per-source limits for the commands that cost the node real work: connect
// (store round trips, a -1 each way) and lobby2 (a reply of up to a TCP
// segment) by rate, registrations by count. Beyond its rate a source is still
// answered, as a game must be (GML never times out), but cheaply: -2, or an
// empty lobby. One IPv4 address can only register one server; an IPv6 prefix
// could register one per address without the count. The count is of
// addresses, not sockets: a game registering again over its own lingering
// socket replaces its registration and is never refused.
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
  /** Server sockets per address, per source (an entry only while one is held). */
  private readonly serversPerSource = new Map<string, Map<string, number>>();

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

  /** Takes a registration slot for `ip`; false when its source has other addresses up to the cap. */
  admitServer(ip: string): boolean {
    const key = sourceKey(ip, this.options.ipv6PrefixLength);
    let addresses = this.serversPerSource.get(key);
    const sockets = addresses?.get(ip) ?? 0;
    if (sockets === 0 && (addresses?.size ?? 0) >= this.options.maxServersPerSource) return false;
    if (!addresses) {
      addresses = new Map();
      this.serversPerSource.set(key, addresses);
    }
    addresses.set(ip, sockets + 1);
    return true;
  }

  /** Gives back a slot `admitServer(ip)` took. */
  releaseServer(ip: string): void {
    const key = sourceKey(ip, this.options.ipv6PrefixLength);
    const addresses = this.serversPerSource.get(key);
    const left = (addresses?.get(ip) ?? 1) - 1;
    if (!addresses) return;
    if (left > 0) addresses.set(ip, left);
    else if (addresses.delete(ip) && addresses.size === 0) this.serversPerSource.delete(key);
  }
}
