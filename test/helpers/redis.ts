// Redis for tests. Shared use: REDIS_URL if set; else testcontainers when a
// Docker engine answers; else a `redis-server` binary on PATH started on a
// free port. Tests that kill and restart Redis own a redis-server process.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import type { Prerequisite } from "./prerequisites.js";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { freeTcpPort, waitFor } from "./master.js";

export interface RedisForTests {
  url: string;
  /** How it was obtained, for skip messages and logs. */
  source: "REDIS_URL" | "testcontainers" | "redis-server";
  close(): Promise<void>;
}

export function hasRedisServerBinary(): boolean {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Suites that kill and restart Redis need their own redis-server process. */
export const redisServerBinary: Prerequisite = {
  missing: hasRedisServerBinary()
    ? null
    : "no redis-server binary on PATH (apt-get install redis-server)",
};

function dockerMayExist(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync("/var/run/docker.sock");
}

/** A key prefix of its own per test, so tests sharing one Redis never see each other. */
export function uniquePrefix(): string {
  return `t${randomBytes(4).toString("hex")}`;
}

export async function sharedRedis(): Promise<RedisForTests> {
  if (process.env.REDIS_URL) {
    return { url: process.env.REDIS_URL, source: "REDIS_URL", close: async () => undefined };
  }
  if (dockerMayExist()) {
    try {
      const { RedisContainer } = await import("@testcontainers/redis");
      const container = await new RedisContainer("redis:7-alpine").start();
      return {
        url: container.getConnectionUrl(),
        source: "testcontainers",
        close: async () => {
          await container.stop();
        },
      };
    } catch {
      // no engine answering: fall through to a local binary
    }
  }
  const server = await OwnedRedisServer.start();
  return { url: server.url, source: "redis-server", close: () => server.stop() };
}

/** A redis-server process this test owns: it can be killed, restarted (empty) and inspected. */
export class OwnedRedisServer {
  private process: ChildProcess | null = null;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<OwnedRedisServer> {
    const server = new OwnedRedisServer(await freeTcpPort());
    await server.restart();
    return server;
  }

  /** Starts (again) on the same port with an empty dataset. */
  async restart(): Promise<void> {
    if (this.process) await this.kill();
    this.process = await spawnRedis(
      [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
      ],
      this.port,
    );
  }

  /** SIGKILL: the dataset is gone, connections drop at once. */
  async kill(): Promise<void> {
    const child = this.process;
    this.process = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  }

  async stop(): Promise<void> {
    await this.kill();
  }

  /** A client for assertions (INFO, keys); the caller disconnects it. */
  client(): Redis {
    return new Redis(this.url);
  }
}

/** Calls per command from INFO commandstats, e.g. { evalsha: 3, publish: 1 }. */
export async function commandCalls(client: Redis): Promise<Record<string, number>> {
  const info = await client.info("commandstats");
  const calls: Record<string, number> = {};
  for (const line of info.split("\n")) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (match) calls[match[1] as string] = Number(match[2]);
  }
  return calls;
}

/** Spawns one redis-server with extra arguments on a free port; resolves once it answers PING. */
export async function spawnRedis(args: string[], port: number): Promise<ChildProcess> {
  const child = spawn("redis-server", args, { stdio: "ignore" });
  await waitFor(
    async () => {
      if (child.exitCode !== null)
        throw new Error(`redis-server ${args.join(" ")} exited with ${child.exitCode}`);
      const probe = new Redis({
        port,
        host: "127.0.0.1",
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
      });
      probe.on("error", () => undefined);
      try {
        await probe.connect();
        return (await probe.ping()) === "PONG";
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    },
    10_000,
    `redis-server on ${port}`,
  );
  return child;
}

function killAll(children: ChildProcess[]): Promise<void> {
  return Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  ).then(() => undefined);
}

/** A master plus one Sentinel watching it as "mymaster". */
export async function startSentinelSetup(): Promise<{
  sentinel: string;
  name: string;
  close(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), "gmnet-sentinel-"));
  const masterPort = await freeTcpPort();
  const sentinelPort = await freeTcpPort();
  const master = await spawnRedis(
    ["--port", String(masterPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    masterPort,
  );
  const config = join(dir, "sentinel.conf");
  writeFileSync(
    config,
    `port ${sentinelPort}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 ${masterPort} 1\n`,
  );
  const sentinel = await spawnRedis([config, "--sentinel"], sentinelPort);
  return {
    sentinel: `127.0.0.1:${sentinelPort}`,
    name: "mymaster",
    close: async () => {
      await killAll([sentinel, master]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A three-shard Redis Cluster (no replicas) created with redis-cli --cluster create. */
export async function startRedisCluster(): Promise<{ nodes: string[]; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "gmnet-cluster-"));
  const ports = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
  const children: ChildProcess[] = [];
  try {
    for (const port of ports) {
      children.push(
        await spawnRedis(
          [
            "--port",
            String(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            join(dir, `nodes-${port}.conf`),
            "--dir",
            dir,
          ],
          port,
        ),
      );
    }
    execFileSync(
      "redis-cli",
      [
        "--cluster",
        "create",
        ...ports.map((p) => `127.0.0.1:${p}`),
        "--cluster-replicas",
        "0",
        "--cluster-yes",
      ],
      {
        stdio: "ignore",
      },
    );
    await waitFor(
      () => {
        const info = execFileSync("redis-cli", [
          "-p",
          String(ports[0]),
          "cluster",
          "info",
        ]).toString();
        return info.includes("cluster_state:ok");
      },
      15_000,
      "cluster_state:ok",
    );
  } catch (error) {
    await killAll(children);
    throw error;
  }
  return {
    nodes: ports.map((p) => `127.0.0.1:${p}`),
    close: async () => {
      await killAll(children);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A redis-server speaking only TLS with a password, and the self-signed CA that signs it. */
export async function startTlsRedis(
  password: string,
): Promise<{ url: string; caFile: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "gmnet-tls-"));
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  const port = await freeTcpPort();
  const child = spawn(
    "redis-server",
    [
      "--port",
      "0",
      "--tls-port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--tls-cert-file",
      cert,
      "--tls-key-file",
      key,
      "--tls-ca-cert-file",
      cert,
      "--tls-auth-clients",
      "no",
      "--requirepass",
      password,
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    { stdio: "ignore" },
  );
  await waitFor(
    () => {
      if (child.exitCode !== null)
        throw new Error(`TLS redis-server exited with ${child.exitCode}`);
      try {
        const pong = execFileSync("redis-cli", [
          "--tls",
          "--cacert",
          cert,
          "-p",
          String(port),
          "--no-auth-warning",
          "-a",
          password,
          "ping",
        ]);
        return pong.toString().includes("PONG");
      } catch {
        return false;
      }
    },
    10_000,
    "TLS redis-server",
  );
  return {
    url: `rediss://:${password}@127.0.0.1:${port}`,
    caFile: cert,
    close: async () => {
      await killAll([child]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The TLS test makes its own CA and certificates with openssl. */
export function opensslPrerequisite(): Prerequisite {
  return { missing: hasOpenssl() ? null : "no openssl binary on PATH" };
}

export function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
