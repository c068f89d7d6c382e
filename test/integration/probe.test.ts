import { afterEach, describe, expect, it } from "vitest";
import { runProbe } from "../../src/probe.js";
import { Resources } from "../helpers/master.js";

const resources = new Resources();
afterEach(async () => {
  await resources.closeAll();
});

describe("gmnet-master probe", () => {
  it("reports the endpoints the master recorded and a welcomed punch", async () => {
    const master = await resources.master();
    const report = await runProbe({
      masterHost: master.host,
      masterPort: master.gamePort,
      timeoutMs: 3_000,
    });
    expect(report.ok).toBe(true);
    expect(report.lines.join("\n")).toMatch(/public UDP endpoint is 127\.0\.0\.1:\d+/);
    expect(report.lines.join("\n")).toContain("punch: welcomed");
  });

  it("says what to do when the lobby is off and no public IP is given", async () => {
    const master = await resources.master({ config: { lobbyEnabled: false } });
    const report = await runProbe({
      masterHost: master.host,
      masterPort: master.gamePort,
      timeoutMs: 1_000,
    });
    expect(report.ok).toBe(false);
    expect(report.lines.join("\n")).toContain("pass --public-ip");
    const withIp = await runProbe({
      masterHost: master.host,
      masterPort: master.gamePort,
      timeoutMs: 3_000,
      publicIp: "127.0.0.1",
    });
    expect(withIp.ok).toBe(true);
  });
});
