// Wiring of one master node: backend (memory or Redis), mediator, game
// listener, HTTP, the refresh loop that keeps owned registrations alive and
// heartbeats the node, readiness, and the drain on shutdown.
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { BadInputLog } from "./bad-input-log.js";
import { MemoryBackend } from "./cluster/memory/memory-backend.js";
import { RedisBackend } from "./cluster/redis/redis-backend.js";
import {
  handoverWaitMs,
  nodeAliveMs,
  refreshIntervalMs,
  type StoreTimings,
  storeTimings,
} from "./cluster/timing.js";
import type { ClusterBackend } from "./cluster/types.js";
import { type MasterConfig, OPTIONS } from "./config/index.js";
import { StartupError } from "./errors.js";
import { adminExposure, buildHttpServer, type Readiness } from "./http/http-server.js";
import { createNodeStatus, type NodeStatus } from "./http/status/node-status-source.js";
import { ipFormatter } from "./logging.js";
import { DrainHandover } from "./master/handover.js";
import { Mediator } from "./master/mediator.js";
import { MasterMetrics } from "./metrics.js";
import { type ConnectionCap, connectionCap } from "./transport/connection-cap.js";
import { GameListener } from "./transport/game-listener.js";
import { ThrottledLog } from "./util/log-throttle.js";
import { MASTER_VERSION } from "./version.js";

/** The GML client gives up punching after 15 s; a repeat inside it means the punch failed. */
const CLIENT_PUNCH_TIMEOUT_MS = 15_000;

export type BackendFactory = (
  config: MasterConfig,
  timings: StoreTimings,
  metrics: MasterMetrics,
  logger: Logger,
  badInput: BadInputLog,
) => Promise<ClusterBackend>;

export interface MasterNodeOptions {
  /** Chooses the store; the default picks Redis when configured, memory otherwise. */
  createBackend?: BackendFactory;
  /** Collect Node.js process metrics (off in tests running several nodes in one process). */
  processMetrics?: boolean;
}

export class MasterNode {
  private refreshTimer: NodeJS.Timeout | null = null;
  private drainDeadlineMs: number | null = null;
  private closed = false;
  private readonly startedAtMs = Date.now();
  private readonly log: ThrottledLog;
  private readonly handover: DrainHandover;

  private constructor(
    readonly config: MasterConfig,
    readonly backend: ClusterBackend,
    readonly mediator: Mediator,
    readonly listener: GameListener,
    readonly http: FastifyInstance | null,
    readonly metrics: MasterMetrics,
    private readonly logger: Logger,
    private readonly status: NodeStatus | null,
  ) {
    this.log = new ThrottledLog(logger, 10_000);
    this.handover = new DrainHandover(
      mediator.owned,
      backend.registry,
      {
        ...config,
        handoverWaitMs: handoverWaitMs(config.handoverLeadMs),
        // The socket's -1 backlog, paced out, before its reset.
        replyDrainMs: storeTimings(config).serverReplyBacklogMs + config.replyGapMs,
      },
      metrics,
      logger,
      ipFormatter(config.logIp),
      (held) => mediator.forwardHeld(held),
    );
    // A handed-over game that registered again needs no clean-up: the drain ends sooner.
    mediator.owned.onHandoverCompleted = (connectionId) => this.handover.completed(connectionId);
  }

  static async start(
    config: MasterConfig,
    rootLogger: Logger,
    options: MasterNodeOptions = {},
  ): Promise<MasterNode> {
    // Every line names its node: cluster logs are read merged.
    const logger = rootLogger.child({ node: config.nodeId });
    const metrics = new MasterMetrics({ processMetrics: options.processMetrics ?? true });
    const badInput = new BadInputLog(metrics, logger);
    const createBackend = options.createBackend ?? defaultBackend;
    const backend = await createBackend(config, storeTimings(config), metrics, logger, badInput);
    const cap = connectionCap(config.maxConnections);
    const { mediator, listener } = gameSide(config, cap, backend, metrics, logger, badInput);
    let node: MasterNode | null = null;
    const readiness = () => node?.readiness() ?? { ready: false, checks: { started: false } };
    let web: { http: FastifyInstance; status: NodeStatus } | null;
    try {
      web = await operatorSide(config, backend, metrics, logger, listener, readiness);
    } catch (error) {
      await backend.close();
      throw error;
    }
    node = new MasterNode(
      config,
      backend,
      mediator,
      listener,
      web?.http ?? null,
      metrics,
      logger,
      web?.status ?? null,
    );
    try {
      await listener.listen().catch(listenFailure(OPTIONS.port.env, config.host, config.port));
      if (web)
        await web.http
          .listen({ host: config.httpHost, port: config.httpPort })
          .catch(listenFailure(OPTIONS.httpPort.env, config.httpHost, config.httpPort));
    } catch (error) {
      await node.close();
      throw error;
    }
    backend.onStoreRecovered(() => {
      logger.info("store reachable again: re-asserting owned registrations");
      void node?.refresh();
    });
    node.scheduleRefresh();
    void node.refresh();
    logger.info(
      {
        nodeId: config.nodeId,
        game: `${config.host}:${listener.port}`,
        http: web ? `${config.httpHost}:${node.httpPort}` : "off",
        store: backend.status().mode,
        maxConnections: cap.maxConnections,
        maxConnectionsBoundBy: cap.boundBy,
      },
      `gmnet-master listening on ${config.host}:${listener.port} (TCP+UDP)`,
    );
    if (web) logger.info(adminExposure(config.adminToken));
    return node;
  }

  get gamePort(): number {
    return this.listener.port;
  }

  get httpPort(): number {
    const address = this.http?.server.address();
    return typeof address === "object" && address ? address.port : 0;
  }

  get draining(): boolean {
    return this.drainDeadlineMs !== null;
  }

  /**
   * Ready means "this node can take new traffic": listening and not draining.
   * The store's health is reported, not required: if every pod's readiness
   * depended on Redis, one outage would empty the Service and no game would
   * even get the quick -2 and empty lobby a node answers meanwhile.
   */
  readiness(): Readiness {
    const store = this.backend.status().storeReachable;
    const checks = { listening: this.listener.isListening, notDraining: !this.draining, store };
    const warnings: string[] = [];
    if (!store) {
      warnings.push(
        "the store (Redis) is unreachable: connects are answered -2 and the lobby is empty until it returns",
      );
    }
    if (this.listener.sourceMonitor.isCollapsed) {
      warnings.push(
        "every recent game connection came from one source address: check that the load balancer keeps sources",
      );
    }
    if (this.drainDeadlineMs !== null && Date.now() > this.drainDeadlineMs) {
      warnings.push("draining past its deadline");
    }
    return { ready: checks.listening && checks.notDraining, checks, warnings };
  }

  /** Keeps owned registrations alive and restores any the store lost; heartbeats the node. */
  async refresh(): Promise<void> {
    if (this.closed) return;
    const status = this.backend.status();
    this.metrics.storeReachable.set(status.storeReachable ? 1 : 0);
    this.metrics.drainOverrun.set(
      this.drainDeadlineMs !== null && Date.now() > this.drainDeadlineMs ? 1 : 0,
    );
    try {
      await this.mediator.owned.refresh();
    } catch (error) {
      this.log.warn({ err: error }, "refresh failed; will retry");
    }
    // The heartbeat runs whatever the refresh did: a node that is alive says so.
    if (this.closed) return; // a refresh must not heartbeat a node that left
    try {
      await this.heartbeat();
      this.metrics.registeredServers.set(
        { scope: "cluster" },
        await this.backend.registry.countServers(),
      );
    } catch (error) {
      this.log.warn({ err: error }, "heartbeat failed; will retry");
    }
  }

  /**
   * SIGTERM. Not ready at once (the balancer sends no new flows), but the node
   * keeps its sockets, registrations, heartbeat and subscription, and hands
   * each game server over at its own next ping; it exits when none is left,
   * or at the drain deadline. Alone (memory, or no other live node) there is
   * nobody to hand over to: every server socket is reset so its game
   * re-registers at its next ping, and the node exits.
   */
  async drain(): Promise<void> {
    if (this.draining || this.closed) return;
    const startedMs = Date.now();
    this.drainDeadlineMs = startedMs + this.config.drainTimeoutMs;
    this.metrics.draining.set(1);
    const alone = await this.isAlone();
    this.logger.info(
      { drainTimeoutMs: this.config.drainTimeoutMs, servers: this.mediator.owned.count, alone },
      alone
        ? "draining: no other node to hand over to"
        : "draining: handing servers over at their next ping",
    );
    await this.heartbeat().catch(() => undefined); // peers and status pages see it draining
    if (!alone) await this.handover.run(this.drainDeadlineMs);
    await this.withinMs(this.mediator.inFlight.whenIdle(), 2_000);
    // Queued -1s go out first: a server's -1 may still be paced.
    await this.withinMs(
      this.listener.flushSessions(),
      Math.max(1_000, this.config.replyGapMs * 20),
    );
    await this.handover.handOverAll();
    if (!alone)
      await this.withinMs(this.handover.settled(), handoverWaitMs(this.config.handoverLeadMs));
    this.logger.info({ ms: Date.now() - startedMs }, "drained");
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.handover.close();
    this.status?.close();
    await this.listener.close();
    await this.backend.nodes.leave(this.config.nodeId).catch(() => undefined);
    await this.http?.close();
    await this.backend.close();
    this.metrics.draining.set(0);
  }

  private async isAlone(): Promise<boolean> {
    if (this.backend.status().mode === "memory") return true;
    try {
      const cutoffMs = Date.now() - nodeAliveMs(this.config.leaseMs);
      const others = (await this.backend.nodes.list()).filter(
        (node) =>
          node.nodeId !== this.config.nodeId &&
          node.lastSeenMs >= cutoffMs &&
          node.draining !== true,
      );
      return others.length === 0;
    } catch {
      return false; // the store is away: assume peers exist and hand over at each ping
    }
  }

  private heartbeat(): Promise<void> {
    return this.backend.nodes.heartbeat({
      nodeId: this.config.nodeId,
      startedAtMs: this.startedAtMs,
      lastSeenMs: Date.now(),
      servers: this.mediator.owned.count,
      ready: this.readiness().ready,
      draining: this.draining,
      drainDeadlineMs: this.drainDeadlineMs,
      storeUp: this.backend.status().storeReachable,
    });
  }

  private withinMs(work: Promise<unknown>, ms: number): Promise<unknown> {
    return Promise.race([work, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
  }

  private scheduleRefresh(): void {
    this.refreshTimer = setInterval(
      () => void this.refresh(),
      refreshIntervalMs(this.config.leaseMs),
    );
    this.refreshTimer.unref();
  }
}

/** The game port's side: the mediator and the listener that feeds it. */
function gameSide(
  config: MasterConfig,
  cap: ConnectionCap,
  backend: ClusterBackend,
  metrics: MasterMetrics,
  logger: Logger,
  badInput: BadInputLog,
): { mediator: Mediator; listener: GameListener } {
  const formatIp = ipFormatter(config.logIp);
  const mediator = new Mediator(
    {
      ...config,
      masterVersion: MASTER_VERSION,
      handoverWaitMs: handoverWaitMs(config.handoverLeadMs),
      repeatWindowMs: CLIENT_PUNCH_TIMEOUT_MS,
    },
    backend.registry,
    backend.bus,
    backend.nodes,
    metrics,
    logger,
    formatIp,
    badInput,
  );
  const listener = new GameListener(
    {
      ...config,
      maxConnections: cap.maxConnections,
      maxQueuedReplies: config.serverReplyBacklog,
      proxyProtocol: config.proxyProtocol === "off" ? null : config.proxyProtocol,
    },
    mediator,
    metrics,
    logger,
    formatIp,
    badInput,
  );
  return { mediator, listener };
}

/** The HTTP port's side (health, metrics, admin API, status page); null when HTTP is off. */
async function operatorSide(
  config: MasterConfig,
  backend: ClusterBackend,
  metrics: MasterMetrics,
  logger: Logger,
  listener: GameListener,
  readiness: () => Readiness,
): Promise<{ http: FastifyInstance; status: NodeStatus } | null> {
  if (config.httpPort === 0) return null;
  // The status page charts this node's counters: sampled only when there is a page.
  const status = createNodeStatus({
    config,
    backend,
    metrics,
    version: MASTER_VERSION,
    readiness,
    sourceAddressCollapsed: () => listener.sourceMonitor.isCollapsed,
  });
  try {
    const http = await buildHttpServer({
      registry: backend.registry,
      nodes: backend.nodes,
      metrics,
      logger,
      adminToken: config.adminToken,
      nodeId: config.nodeId,
      lobbyScanLimit: config.lobbyScanLimit,
      readiness,
      status: status.source,
    });
    return { http, status };
  } catch (error) {
    status.close();
    throw error;
  }
}

const defaultBackend: BackendFactory = async (config, timings, metrics, logger, badInput) => {
  if (config.redis === null) return new MemoryBackend(config.nodeId, timings);
  return RedisBackend.start(
    { target: config.redis, keyPrefix: config.keyPrefix, nodeId: config.nodeId, timings },
    metrics,
    logger,
    badInput,
  );
};

/** What the OS says when a port cannot be bound, in words (a misconfiguration, not a crash). */
const LISTEN_PROBLEMS: Readonly<Record<string, string>> = {
  EADDRINUSE: "is in use by another process",
  EACCES: "needs privileges this process lacks",
  EADDRNOTAVAIL: "is not an address of this machine",
};

/** Turns a bind failure into one line naming the option; anything else passes through. */
function listenFailure(option: string, host: string, port: number): (error: unknown) => never {
  return (error) => {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    const problem = code === undefined ? undefined : LISTEN_PROBLEMS[code];
    if (problem === undefined) throw error;
    throw new StartupError("listen", `${option}: ${host}:${port} ${problem} (${code})`);
  };
}
