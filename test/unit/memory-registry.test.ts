// The memory store: the shared Registry contract (with a controlled clock),
// and the bounds that make a flood of sources cost O(1) per datagram.
import { afterEach, describe, expect, it, vi } from "vitest";
import { MemoryRegistry } from "../../src/cluster/memory/memory-registry.js";
import { CONTRACT_TIMINGS, describeRegistryContract } from "../contract/registry-contract.js";

let clock = 1_700_000_000_000;
const registries: MemoryRegistry[] = [];

function makeRegistry(maxTrackedSources = CONTRACT_TIMINGS.maxTrackedSources): MemoryRegistry {
  const registry = new MemoryRegistry({ ...CONTRACT_TIMINGS, maxTrackedSources }, () => clock);
  registries.push(registry);
  return registry;
}

/** The registry with one server, 10.9.9.9, registered with its UDP port 6510. */
async function withServer(registry: MemoryRegistry): Promise<MemoryRegistry> {
  await registry.recordServerUdp("10.9.9.9", 6510);
  await registry.registerServer({
    ip: "10.9.9.9",
    version: "",
    data: Array(8).fill(""),
    ownerNodeId: "n",
    ownerConnectionId: "c",
  });
  return registry;
}

afterEach(async () => {
  for (const registry of registries.splice(0)) await registry.close();
});

describeRegistryContract("MemoryRegistry", {
  registry: async () => makeRegistry(),
  advance: async (ms) => {
    clock += ms;
  },
});

describe("MemoryRegistry: bounded per-source state", () => {
  it("at its cap, a datagram from a new source evicts the oldest in O(1): the table never grows, the newest stay", async () => {
    const registry = await withServer(makeRegistry(1_000));
    // 100k spoofed sources, 4 endpoints each: the table stays at its cap throughout.
    let peak = 0;
    for (let i = 0; i < 100_000; i++) {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      for (let port = 1; port <= 4; port++) await registry.recordClientUdp(ip, port);
      peak = Math.max(peak, registry.trackedEndpoints);
    }
    expect(peak).toBeLessThanOrEqual(1_000);
    // A real client right after the flood is still served.
    await registry.recordClientUdp("192.0.2.1", 40_000);
    expect(await registry.beginConnect("10.9.9.9", "192.0.2.1")).toMatchObject({
      status: "ready",
      clientUdpPort: 40_000,
    });
  });

  it("a read that moves an older endpoint forward and starts a generation keeps the live ones from the next sweep", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    try {
      // 1,000 tracked sources: generations of 500 endpoints.
      const registry = await withServer(makeRegistry(1_000));
      const ttl = CONTRACT_TIMINGS.clientUdpTtlMs;
      for (let i = 0; i <= 500; i++) await registry.recordClientUdp(`10.1.${i >> 8}.${i & 255}`, 1);
      clock += ttl - 100;
      // A second generation fills with endpoints that are live for another 600 ms.
      for (let i = 0; i < 499; i++) await registry.recordClientUdp(`10.2.${i >> 8}.${i & 255}`, 2);
      // A connect reads an endpoint of the first generation: it moves forward, a third begins.
      await registry.beginConnect("10.9.9.9", "10.1.0.0");
      clock += 200;
      vi.advanceTimersByTime(1_000); // the sweep
      expect(await registry.beginConnect("10.9.9.9", "10.2.0.7")).toMatchObject({
        status: "ready",
        clientUdpPort: 2,
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it("pending server ports are bounded the same way", async () => {
    const registry = makeRegistry(500);
    for (let i = 0; i < 20_000; i++)
      await registry.recordServerUdp(`10.1.${i >> 8}.${i & 255}`, 6510);
    expect(registry.trackedEndpoints).toBeLessThanOrEqual(500);
  });

  it("close releases pending waiters with null", async () => {
    const registry = await withServer(makeRegistry());
    const lookup = await registry.beginConnect("10.9.9.9", "10.0.0.9");
    if (lookup.status !== "waiting") throw new Error(`expected waiting, got ${lookup.status}`);
    const waiting = lookup.awaitClientUdp(60_000);
    await registry.close();
    expect(await waiting).toBeNull();
  });
});
