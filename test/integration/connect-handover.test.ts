// A connect waiting for a handed-over server, over real loopback sockets: its
// wait can end without the wake-up (pub/sub is at most once), so the connect
// looks the server up once more before answering -2.
import { afterEach, expect, it } from "vitest";
import { MemoryBackend } from "../../src/cluster/memory/memory-backend.js";
import { MemoryRegistry } from "../../src/cluster/memory/memory-registry.js";
import type { StoreTimings } from "../../src/cluster/timing.js";
import type { ClusterBackend, ConnectLookup } from "../../src/cluster/types.js";
import type { BackendFactory } from "../../src/master-node.js";
import {
  encodeConnectRequest,
  encodeRegRequest,
  encodeUdpRequest,
} from "../../src/protocol/index.js";
import { peerFoundBytes, registerRawServer, Resources, waitFor } from "../helpers/master.js";

const resources = new Resources();
afterEach(() => resources.closeAll());

/** A store whose hand-over wake-ups are all lost: every wait reports a time-out. */
class LostWakeups extends MemoryRegistry {
  handoverWaits = 0;

  override async beginConnect(serverIp: string, clientIp: string): Promise<ConnectLookup> {
    const lookup = await super.beginConnect(serverIp, clientIp);
    if (lookup.status !== "handover") return lookup;
    return {
      ...lookup,
      awaitRegistration: async (timeoutMs) => {
        this.handoverWaits++;
        await lookup.awaitRegistration(timeoutMs); // ends when the registration lands...
        return false; // ...but the connect never hears of it
      },
    };
  }
}

function lostWakeupsBackend(): { registry: LostWakeups; factory: BackendFactory } {
  let registry: LostWakeups | null = null;
  const factory: BackendFactory = async (config, timings: StoreTimings) => {
    const memory = new MemoryBackend(config.nodeId, timings);
    const lossy = new LostWakeups(timings);
    registry = lossy;
    const backend: ClusterBackend = {
      registry: lossy,
      bus: memory.bus,
      nodes: memory.nodes,
      status: () => memory.status(),
      onStoreRecovered: () => undefined,
      close: async () => {
        await lossy.close();
        await memory.close();
      },
    };
    return backend;
  };
  return {
    factory,
    get registry() {
      if (!registry) throw new Error("the node has not started");
      return registry;
    },
  };
}

it("a connect whose hand-over wake-up was lost still finds the server registered again", async () => {
  const store = lostWakeupsBackend();
  const master = await resources.master({ createBackend: store.factory });
  const serverIp = "127.0.30.1";
  const server = await registerRawServer(resources, master, serverIp);
  const old = await store.registry.findServer(serverIp);
  expect(await store.registry.markHandover(serverIp, old?.ownerConnectionId ?? "")).toBe(true);

  const clientIp = "127.0.30.2";
  const clientUdp = await resources.udp(clientIp);
  await clientUdp.send(encodeUdpRequest("connect", true), master.gamePort);
  const client = await resources.tcp(master.gamePort, clientIp);
  client.send(encodeConnectRequest(serverIp));
  await waitFor(
    () => store.registry.handoverWaits === 1,
    5_000,
    "the connect waiting for the hand-over",
  );

  // The game registers again (its UDP port carried over); the waiting connect is not told.
  const again = await resources.tcp(master.gamePort, serverIp);
  again.send(encodeRegRequest());
  const reply = await client.waitForBytes(peerFoundBytes(serverIp, server.udp.port).length);
  expect(reply).toEqual(peerFoundBytes(serverIp, server.udp.port));
  await again.waitForBytes(1);
  expect(again.received).toEqual(peerFoundBytes(clientIp, clientUdp.port));
});
