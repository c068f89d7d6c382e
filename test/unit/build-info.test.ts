// gmnet_build_info: one series that says which release and runtime a node runs.
import { describe, expect, it } from "vitest";
import { MasterMetrics } from "../../src/metrics.js";
import { MASTER_VERSION } from "../../src/version.js";

describe("gmnet_build_info", () => {
  it("is 1, labelled with the package version and the Node.js version", async () => {
    const metrics = new MasterMetrics({ processMetrics: false });
    const text = await metrics.prometheus.metrics();
    expect(text).toContain(
      `gmnet_build_info{version="${MASTER_VERSION}",node_version="${process.versions.node}"} 1`,
    );
    expect(MASTER_VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });
});
