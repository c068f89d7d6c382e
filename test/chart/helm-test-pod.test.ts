// The `helm test` pod's script, run for real: rendered from the chart, pointed
// at a master on loopback instead of the release's Service, executed by sh in
// the repository (the image's /app layout: dist/cli.js). It must pass when the
// master saw the pod's own address, fail when it saw another one, and in PROXY
// mode check /readyz.

import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMaster, type TestMaster } from "../helpers/master.js";
import {
  byKind,
  FULLNAME,
  helm,
  isHook,
  NAMESPACE,
  type Obj,
  render,
  root,
} from "./chart-harness.js";

function testScript(args: string[]): string {
  const pod = byKind(render(args), "Pod").find(isHook) as Obj;
  return pod.spec.containers[0].command[2] as string;
}

/** Runs the script asynchronously: the master under test lives in this process. */
function runScript(script: string, podIp: string): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", script], {
      cwd: root,
      env: { ...process.env, POD_IP: podIp },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 30_000,
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, out }));
  });
}

describe.skipIf(!helm.bin)("helm test pod script", () => {
  let master: TestMaster;
  beforeAll(async () => {
    master = await startMaster({ http: true });
  });
  afterAll(async () => {
    await master?.close();
  });

  const pointedAtMaster = (args: string[]) =>
    testScript(args).replace(
      `master="${FULLNAME}.${NAMESPACE}.svc:6510"`,
      `master="${master.host}:${master.gamePort}"`,
    );

  it("passes and says so when the master recorded this pod's own address", async () => {
    const script = pointedAtMaster([]);
    expect(script).toContain(`master="${master.host}:${master.gamePort}"`);
    const r = await runScript(script, master.host);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain(`the master recorded the game server under ${master.host}\n`);
    expect(r.out).toContain("punch: welcomed");
    expect(r.out).toContain(
      `PASS: sources preserved inside the cluster: the master saw this pod's own address (${master.host})`,
    );
  });

  it("fails when the master recorded another address (SNAT in the path)", async () => {
    const r = await runScript(pointedAtMaster([]), "127.0.0.9");
    expect(r.status, r.out).toBe(1);
    expect(r.out).toContain("FAIL: sources NOT preserved");
  });

  it("fails when nothing answers on the game port", async () => {
    const script = testScript([]).replace(
      `master="${FULLNAME}.${NAMESPACE}.svc:6510"`,
      'master="127.0.0.1:1"',
    );
    const r = await runScript(
      script.replace("--timeout-ms 10000", "--timeout-ms 2000"),
      "127.0.0.1",
    );
    expect(r.status, r.out).toBe(1);
    expect(r.out).toContain("FAIL");
  });

  it("with PROXY protocol on, checks /readyz and names the outside probe", async () => {
    const script = testScript([
      "--set",
      "config.proxyProtocol=v2",
      "--set",
      "config.proxyTrustedCidrs={10.0.0.0/16}",
    ]).replace(
      `http://${FULLNAME}-metrics.${NAMESPACE}.svc:9510/readyz`,
      `${master.httpUrl}/readyz`,
    );
    const r = await runScript(script, master.host);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('200 {"ready":true');
    expect(r.out).toContain("npx gmnet-master probe --master <EXTERNAL-IP>:6510");
  });
});
