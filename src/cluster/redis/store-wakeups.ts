// What the bus wakes inside this node's registry: a waiting connect handed a
// client's UDP port or "busy" (by waiter id), connects waiting for a server's
// next registration (by server IP).
import type { HandedClientUdp } from "../types.js";
import { Latches } from "./latches.js";

export class StoreWakeups {
  readonly clientPorts = new Latches<NonNullable<HandedClientUdp>>();
  readonly servers = new Latches<true>();

  clear(): void {
    this.clientPorts.clear();
    this.servers.clear();
  }
}
