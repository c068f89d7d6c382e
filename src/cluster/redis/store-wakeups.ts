// What the bus wakes inside this node's registry: a waiting connect handed a
// client's UDP port (by waiter id), connects waiting for a server's next
// registration (by server IP).
import { Latches } from "./latches.js";

export class StoreWakeups {
  readonly clientPorts = new Latches<number>();
  readonly servers = new Latches<true>();

  clear(): void {
    this.clientPorts.clear();
    this.servers.clear();
  }
}
