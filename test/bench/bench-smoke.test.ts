// A few-seconds version of the load generator and the fuzzer (bench/): proves
// every reply is right and the node stays up and serving, not how fast it is.
import { afterEach, describe, expect, it } from "vitest";
import { runFuzz } from "../../bench/lib/fuzz.js";
import { ServerFleet, wrongReplies } from "../../bench/lib/load.js";
import { Resources, type TestMaster, waitFor } from "../helpers/master.js";

const res = new Resources();
afterEach(() => res.closeAll());

async function startFleet(master: TestMaster, servers: number, tag: string): Promise<ServerFleet> {
  const fleet = res.add(
    new ServerFleet({ nodes: [{ host: master.host, port: master.gamePort }], servers, tag }),
    (f) => f.close(),
  );
  await fleet.start();
  await fleet.prepareClients(64);
  await waitFor(
    async () => {
      for (const server of fleet.servers) {
        const found = await master.node.backend.registry.findServer(server.ip);
        if (found?.udpPort !== server.udpPort) return false;
      }
      return true;
    },
    10_000,
    `${servers} bench servers registered`,
  );
  return fleet;
}

describe("bench smoke", () => {
  it("the load generator's 200 connects all get the right -1 on both sides", async () => {
    const master = await res.master({ config: { replyGapMs: 1, clientUdpWaitMs: 3_000 } });
    const fleet = await startFleet(master, 20, "smoke-load");
    const run = await fleet.run({
      connectsPerSec: 200,
      seconds: 5,
      maxConnects: 200,
      crossNode: false,
      lobbyPerSec: 4,
      connectTimeoutMs: 8_000,
    });
    expect(wrongReplies(run.stats)).toBe(0);
    expect(run.stats.started).toBe(200);
    expect(run.stats.clientFound).toBe(200);
    expect(run.stats.completed).toBe(200);
    expect(run.stats.lobbyOk).toBe(run.stats.lobbyRequests);
    expect(run.clientLatency.count).toBe(200);
    expect(run.serverLatency.count).toBe(200);
  }, 30_000);

  it("20k fuzz inputs leave the node serving real games with right replies", async () => {
    // Rate limiting off: this fuzzes the decoders, not the limiter in front of them.
    const master = await res.master({
      config: { replyGapMs: 1, idleTimeoutMs: 1_000, udpRatePerEndpoint: 0 },
    });
    const fleet = await startFleet(master, 10, "smoke-fuzz");
    const fuzz = await runFuzz({
      target: { host: master.host, port: master.gamePort },
      udpInputs: 18_000,
      tcpStreams: 2_000,
      seed: 7,
      udpPerSec: 20_000,
      tcpConcurrency: 32,
      maxSeconds: 40,
    });
    expect(fuzz.udpSent + fuzz.tcpStreams).toBe(20_000);
    expect(master.node.listener.isListening).toBe(true);
    const run = await fleet.run({
      connectsPerSec: 100,
      seconds: 3,
      maxConnects: 50,
      crossNode: false,
      lobbyPerSec: 2,
      connectTimeoutMs: 8_000,
    });
    expect(wrongReplies(run.stats)).toBe(0);
    expect(run.stats.clientFound).toBe(50);
    expect(run.stats.completed).toBe(50);
    expect(run.stats.lobbyOk).toBe(run.stats.lobbyRequests);
  }, 60_000);
});
