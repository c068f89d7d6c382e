// Redis credentials never crash a node: a password beside a URL is used; a
// refused password or ACL at start is one line naming the option and exit
// code 2; the same refusal at runtime (a rotated password) is a logged,
// counted store outage. Against a real redis-server with requirepass and an
// ACL user.
import { Redis } from "ioredis";
import { afterEach, beforeEach, expect, it } from "vitest";
import { freeTcpPort, metricValue, RawTcp, Resources, waitFor } from "../helpers/master.js";
import { describeWith } from "../helpers/prerequisites.js";
import { type NodeProcess, runUntilExit as runCli, spawnNode } from "../helpers/processes.js";
import { OwnedRedisServer, redisServerBinary } from "../helpers/redis.js";
import { NOT_FOUND, tcpConnect, UDP_CONNECT } from "../helpers/wire.js";

const PASSWORD = "s3cret-pass";

const res = new Resources();
let redis: OwnedRedisServer;

beforeEach(async () => {
  redis = await OwnedRedisServer.start();
  const admin = redis.client();
  // The limited user may do everything but run scripts: the node needs EVALSHA.
  await admin.acl("SETUSER", "limited", "on", ">limited-pass", "~*", "&*", "+@all", "-@scripting");
  await admin.config("SET", "requirepass", PASSWORD);
  admin.disconnect();
});
afterEach(async () => {
  await res.closeAll();
  await redis.stop();
});

const urlWith = (auth: string) => redis.url.replace("redis://", `redis://${auth}@`);

/** The CLI on a free port of its own, until it exits. */
async function runUntilExit(env: Record<string, string>) {
  const port = await freeTcpPort("127.0.0.61");
  return runCli({ GMNET_HOST: "127.0.0.61", GMNET_PORT: String(port), ...env });
}

describeWith(redisServerBinary, "Redis credentials", () => {
  it("uses GMNET_REDIS_PASSWORD beside a URL without one", async () => {
    const node = await spawnNode({
      nodeId: "with-password",
      host: "127.0.0.62",
      env: { REDIS_URL: redis.url, GMNET_REDIS_PASSWORD: PASSWORD },
    });
    res.add(node, (n) => {
      n.kill("SIGKILL");
      return n.exited;
    });
    const readiness = await fetch(`http://${node.host}:${node.httpPort}/readyz`);
    expect(await readiness.json()).toMatchObject({ ready: true, checks: { store: true } });
  });

  it.each([
    ["a wrong password in the URL", () => ({ REDIS_URL: urlWith(":wrong") }), /REDIS_URL/],
    ["no password at all", () => ({ REDIS_URL: redis.url }), /REDIS_URL.*GMNET_REDIS_PASSWORD/],
    [
      "a wrong GMNET_REDIS_PASSWORD",
      () => ({ REDIS_URL: redis.url, GMNET_REDIS_PASSWORD: "wrong" }),
      /GMNET_REDIS_PASSWORD/,
    ],
  ])(
    "refuses to start on %s: one line naming the option, exit code 2",
    async (_name, env, names) => {
      const { code, stderr } = await runUntilExit(env());
      expect(code).toBe(2);
      const lines = stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^gmnet-master: Redis refused the node's credentials/);
      expect(lines[0]).toMatch(names);
      expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    },
  );

  it("refuses to start with an ACL user that may not run scripts: one line saying what it needs, exit 2", async () => {
    const { code, stderr } = await runUntilExit({ REDIS_URL: urlWith("limited:limited-pass") });
    expect(code).toBe(2);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(
      /^gmnet-master: the Redis user may not run what the node needs \(NOPERM/,
    );
    expect(stderr).toMatch(/REDIS_URL/);
  });

  it("a password rotated at runtime is a counted store outage, not a crash", async () => {
    const node: NodeProcess = await spawnNode({
      nodeId: "rotated",
      host: "127.0.0.63",
      env: { REDIS_URL: urlWith(`:${PASSWORD}`), GMNET_REPLY_GAP_MS: "20" },
    });
    res.add(node, (n) => {
      if (n.child.exitCode === null) n.kill("SIGKILL");
      return n.exited;
    });
    const admin = new Redis(urlWith(`:${PASSWORD}`));
    await admin.config("SET", "requirepass", "rotated-pass");
    // The node's connections must reconnect, with a password that no longer works.
    await admin.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");
    await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
    admin.disconnect();
    const http = `http://${node.host}:${node.httpPort}`;
    await waitFor(
      async () =>
        metricValue(await (await fetch(`${http}/metrics`)).text(), "gmnet_store_up") === 0,
      10_000,
      "the store reported down",
    );
    // Still serving: ready, and a connect is answered -2 at once.
    expect((await fetch(`${http}/readyz`)).status).toBe(200);
    const udp = await res.udp("127.0.0.64");
    await udp.send(UDP_CONNECT, node.port, node.host);
    const client = res.add(await RawTcp.connect(node.port, "127.0.0.64", node.host), (t) =>
      t.close(),
    );
    client.send(tcpConnect("127.0.0.65"));
    expect(await client.waitForBytes(1)).toEqual(NOT_FOUND);
    // Each reconnect is refused and counted (WRONGPASS), at most one log line a second.
    await waitFor(
      async () =>
        metricValue(await (await fetch(`${http}/metrics`)).text(), "gmnet_redis_errors_total") > 0,
      10_000,
      "the refused reconnects counted",
    );
    expect(node.child.exitCode).toBeNull();
  });
});
