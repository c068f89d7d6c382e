// Test helpers: an in-process master on loopback, raw TCP/UDP peers that
// speak from chosen loopback addresses (127.0.0.2, 127.0.0.3 … act as distinct
// public IPs on Linux), and event-driven waiting (no sleeps).
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect as tcpConnect, type Socket } from "node:net";
import pino, { type Logger } from "pino";
import { afterEach } from "vitest";
import { loadConfig, type MasterConfig } from "../../src/config/index.js";
import { type BackendFactory, MasterNode } from "../../src/master-node.js";
import { encodeReg2Request, encodeRegRequest, encodeUdpRequest } from "../../src/protocol/index.js";

export const MASTER_HOST = "127.0.0.1";

export { freeTcpPort, waitFor } from "./wait.js";
import { freeTcpPort, waitFor } from "./wait.js";

/** Resolves with the first emission of `event`, or rejects after `timeoutMs`. */
export function once<T = unknown>(
  emitter: NodeJS.EventEmitter,
  event: string,
  timeoutMs = 5_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}"`));
    }, timeoutMs);
    const onEvent = (value: T) => {
      clearTimeout(timer);
      resolve(value);
    };
    emitter.once(event, onEvent);
  });
}

export interface StartMasterOptions {
  /** Extra environment (GMNET_*, REDIS_URL …), read through loadConfig like in production. */
  env?: Record<string, string>;
  /** Overrides applied to the loaded config (game port and host are loopback/0 unless set). */
  config?: Partial<MasterConfig>;
  /** Start the HTTP server on a free loopback port (off by default). */
  http?: boolean;
  /** The cluster backend; the default is the node's own choice (memory without REDIS_URL). */
  createBackend?: BackendFactory;
  nodeId?: string;
  /** Where the node logs (default: silent). */
  logger?: Logger;
}

/** Defaults that keep tests quick (short reply gap and waits); `env` and `config` override them. */
export const FAST_TIMINGS_ENV: Readonly<Record<string, string>> = {
  GMNET_REPLY_GAP_MS: "20",
  GMNET_CLIENT_UDP_WAIT_MS: "1000",
  GMNET_IDLE_TIMEOUT_MS: "10000",
};

export interface TestMaster {
  node: MasterNode;
  host: string;
  gamePort: number;
  httpPort: number;
  httpUrl: string;
  close(): Promise<void>;
}

/**
 * Starts a master node on 127.0.0.1 (game port 0: TCP and UDP share the port
 * the OS picks). Several can run in one process; each must be closed.
 */
export async function startMaster(options: StartMasterOptions = {}): Promise<TestMaster> {
  const env: Record<string, string> = {
    GMNET_HOST: MASTER_HOST,
    GMNET_HTTP_HOST: MASTER_HOST,
    ...FAST_TIMINGS_ENV,
    GMNET_NODE_ID:
      options.nodeId ?? `test-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    ...options.env,
  };
  const loaded = loadConfig({ argv: [], env });
  const logger = options.logger ?? pino({ level: "silent" });
  for (let attempt = 0; ; attempt++) {
    const httpPort = options.http ? await freeTcpPort() : 0;
    const config: MasterConfig = {
      ...loaded,
      port: 0,
      httpPort,
      ...options.config,
    };
    try {
      const node = await MasterNode.start(config, logger, {
        processMetrics: false,
        ...(options.createBackend ? { createBackend: options.createBackend } : {}),
      });
      return {
        node,
        host: MASTER_HOST,
        gamePort: node.gamePort,
        httpPort: node.httpPort,
        httpUrl: `http://${MASTER_HOST}:${node.httpPort}`,
        close: () => node.close(),
      };
    } catch (error) {
      // The free port (or the UDP twin of the TCP port) can be taken between probe and bind.
      if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 5) throw error;
    }
  }
}

/** A raw TCP peer: sends exact bytes, records every 'data' event as its own chunk. */
export class RawTcp {
  readonly chunks: Buffer[] = [];
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => this.chunks.push(chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.closed = true;
    });
  }

  static connect(port: number, localAddress = "127.0.0.1", host = MASTER_HOST): Promise<RawTcp> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ host, port, localAddress }, () => {
        socket.off("error", reject);
        socket.setNoDelay(true);
        resolve(new RawTcp(socket));
      });
      socket.once("error", reject);
    });
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  /** Everything received so far, concatenated. */
  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  send(bytes: Buffer | string): void {
    this.socket.write(typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes);
  }

  /** Waits until at least `count` chunks (separate reads) arrived. */
  waitForChunks(count: number, timeoutMs = 5_000): Promise<Buffer[]> {
    return waitFor(
      () => (this.chunks.length >= count ? this.chunks : null),
      timeoutMs,
      `${count} chunk(s) on TCP port ${this.localPort}`,
    );
  }

  /** Waits until at least `bytes` bytes arrived in total. */
  waitForBytes(bytes: number, timeoutMs = 5_000): Promise<Buffer> {
    return waitFor(
      () => (this.received.length >= bytes ? this.received : null),
      timeoutMs,
      `${bytes} byte(s) on TCP port ${this.localPort}`,
    );
  }

  waitForClose(timeoutMs = 5_000): Promise<true> {
    return waitFor(() => this.closed, timeoutMs, `close of TCP port ${this.localPort}`);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A raw UDP peer bound to a chosen loopback address (and port, 0 = any). */
export class RawUdp {
  readonly received: Array<{ data: Buffer; address: string; port: number }> = [];
  private constructor(readonly socket: UdpSocket) {
    socket.on("message", (data, remote) =>
      this.received.push({ data, address: remote.address, port: remote.port }),
    );
    socket.on("error", () => undefined);
  }

  static bind(address = "127.0.0.1", port = 0): Promise<RawUdp> {
    return new Promise((resolve, reject) => {
      const socket = createSocket("udp4");
      socket.once("error", reject);
      socket.bind({ address, port }, () => {
        socket.off("error", reject);
        resolve(new RawUdp(socket));
      });
    });
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(bytes: Buffer | string, port: number, host = MASTER_HOST): Promise<void> {
    const payload = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes;
    return new Promise((resolve, reject) =>
      this.socket.send(payload, port, host, (error) => (error ? reject(error) : resolve())),
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

/** Owns everything a test opens; `closeAll()` in afterEach closes it (newest first). */
export class Resources {
  private readonly closers: Array<() => unknown> = [];

  add<T>(resource: T, close: (resource: T) => unknown): T {
    this.closers.push(() => close(resource));
    return resource;
  }

  async master(options?: StartMasterOptions): Promise<TestMaster> {
    const master = await startMaster(options);
    return this.add(master, (m) => m.close());
  }

  async tcp(port: number, localAddress?: string): Promise<RawTcp> {
    return this.add(await RawTcp.connect(port, localAddress), (t) => t.close());
  }

  async udp(address?: string, port?: number): Promise<RawUdp> {
    return this.add(await RawUdp.bind(address, port), (u) => u.close());
  }

  async closeAll(): Promise<void> {
    const closers = this.closers.splice(0).reverse();
    for (const close of closers) await close();
  }
}

/** Reads a Prometheus sample (exact label text as prom-client prints it, e.g. `{outcome="found"}`). */
export function metricValue(text: string, name: string, labels = ""): number {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}${labels} `))
      return Number(line.slice(name.length + labels.length + 1));
  }
  return 0;
}

interface MetricLike {
  get(): Promise<{ values: Array<{ labels: Record<string, string | number>; value: number }> }>;
}

/** Sum of a prom-client metric's samples whose labels include `labels`. */
export async function metricTotal(
  metric: MetricLike,
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((sample) =>
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    )
    .reduce((sum, sample) => sum + sample.value, 0);
}

export interface RawServer {
  tcp: RawTcp;
  udp: RawUdp;
  ip: string;
}

/**
 * Registers a game server the way the GML scripts do, from `ip`: UDP `reg`
 * (with GameMaker's header) from its game socket, then TCP `reg` or `reg2`.
 * Resolves once the master has bound the server's UDP port.
 */
export async function registerRawServer(
  resources: Resources,
  master: { gamePort: number; node: MasterNode },
  ip: string,
  lobby?: { version: string; data: string[] },
): Promise<RawServer> {
  const udp = await resources.udp(ip);
  await udp.send(encodeUdpRequest("reg", true), master.gamePort);
  const tcp = await resources.tcp(master.gamePort, ip);
  tcp.send(lobby ? encodeReg2Request(lobby.version, lobby.data) : encodeRegRequest());
  await waitFor(
    async () => {
      const found = await master.node.backend.registry.findServer(ip);
      return found?.udpPort === udp.port && found;
    },
    5_000,
    `registration of ${ip} with UDP port ${udp.port}`,
  );
  return { tcp, udp, ip };
}

/** Eight lobby data fields from the first few. */
export function lobbyData(...values: string[]): string[] {
  return Array.from({ length: 8 }, (_, i) => values[i] ?? "");
}

/** The lobby the lobby tests query: dm/b on .2, ctf/a on .4, dm/c on .5 (in that order). */
export async function registerLobbyFixture(
  resources: Resources,
  master: { gamePort: number; node: MasterNode },
): Promise<void> {
  for (const [ip, data1, data2] of [
    ["127.0.0.2", "dm", "b"],
    ["127.0.0.4", "ctf", "a"],
    ["127.0.0.5", "dm", "c"],
  ] as const) {
    await registerRawServer(resources, master, ip, {
      version: "1.2.5",
      data: lobbyData(data1, data2),
    });
  }
}

/** The exact bytes of a `-1` reply (written out by hand in wire.ts). */
export { peerReply as peerFoundBytes } from "./wire.js";

/** Log lines a node writes, parsed (for tests that count lines). */
export function capturedLogger(level = "info"): {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
} {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level },
    { write: (text: string) => lines.push(JSON.parse(text) as Record<string, unknown>) },
  );
  return { logger, lines };
}

const SOCKET_RESOURCES = new Set([
  "TCPSocketWrap",
  "TCPServerWrap",
  "TCPWRAP",
  "UDPWrap",
  "UDPWRAP",
]);

/** Open TCP/UDP handles of this process (vitest's own IPC uses pipes, not sockets). */
export function openSocketCount(): number {
  return process.getActiveResourcesInfo().filter((name) => SOCKET_RESOURCES.has(name)).length;
}

/**
 * Waits until this process holds no TCP/UDP handle: proves a test closed
 * every socket and node it opened. Call after `Resources.closeAll()`.
 */
export async function expectNoOpenSockets(timeoutMs = 3_000): Promise<void> {
  await waitFor(
    () => openSocketCount() === 0,
    timeoutMs,
    `every TCP/UDP handle to close (still open: ${process.getActiveResourcesInfo().join(", ")})`,
  );
}

/** Resources closed after each test of the file, which must then leave no socket open. */
export function resourcesClosedAfterEach(): Resources {
  const resources = new Resources();
  afterEach(async () => {
    await resources.closeAll();
    await expectNoOpenSockets();
  });
  return resources;
}
