// Wiring of one master node: backend (memory or Redis), mediator, game
// listener, HTTP, the refresh loop that keeps owned registrations alive, and
// the drain on shutdown.
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { MemoryBackend } from "./cluster/memory/memory-backend.js";
import { RedisBackend } from "./cluster/redis/redis-backend.js";
import type { StoreTimings } from "./cluster/timing.js";
import type { ClusterBackend } from "./cluster/types.js";
import type { MasterConfig } from "./config/index.js";
import { adminExposure, buildHttpServer, type Readiness } from "./http/http-server.js";
import { createNodeStatus, type NodeStatus } from "./http/status/node-status-source.js";
import { ipFormatter } from "./logging.js";
import { Mediator } from "./master/mediator.js";
import { MasterMetrics } from "./metrics.js";
import { GameListener } from "./transport/game-listener.js";
import { MASTER_VERSION } from "./version.js";

/** The GML client gives up punching after 15 s; a repeat inside it means the punch failed. */
const CLIENT_PUNCH_TIMEOUT_MS = 15_000;

export type BackendFactory = (
  config: MasterConfig,
  timings: StoreTimings,
  metrics: MasterMetrics,
  logger: Logger,
) => Promise<ClusterBackend>;

export interface MasterNodeOptions {
  /** Chooses the store; the default picks Redis when configured, memory otherwise. */
  createBackend?: BackendFactory;
  /** Collect Node.js process metrics (off in tests running several nodes in one process). */
  processMetrics?: boolean;
}

export class MasterNode {
  private refreshTimer: NodeJS.Timeout | null = null;
  private draining = false;
  private closed = false;
  private readonly startedAtMs = Date.now();

  private constructor(
    readonly config: MasterConfig,
    readonly backend: ClusterBackend,
    readonly mediator: Mediator,
    readonly listener: GameListener,
    readonly http: FastifyInstance | null,
    readonly metrics: MasterMetrics,
    private readonly logger: Logger,
    private readonly status: NodeStatus | null,
  ) {}

  static async start(
    config: MasterConfig,
    rootLogger: Logger,
    options: MasterNodeOptions = {},
  ): Promise<MasterNode> {
    // Every line names its node: cluster logs are read merged.
    const logger = rootLogger.child({ node: config.nodeId });
    const metrics = new MasterMetrics({ processMetrics: options.processMetrics ?? true });
    const timings: StoreTimings = {
      serverUdpBindWindowMs: config.serverUdpBindWindowMs,
      clientUdpTtlMs: config.clientUdpTtlMs,
      leaseMs: config.leaseMs,
    };
    const createBackend = options.createBackend ?? defaultBackend;
    const backend = await createBackend(config, timings, metrics, logger);
    const formatIp = ipFormatter(config.logIp);
    const mediator = new Mediator(
      {
        nodeId: config.nodeId,
        masterVersion: MASTER_VERSION,
        clientUdpWaitMs: config.clientUdpWaitMs,
        lobbyEnabled: config.lobbyEnabled,
        lobbyOrder: config.lobbyOrder,
        minVersion: config.minVersion,
        repeatWindowMs: CLIENT_PUNCH_TIMEOUT_MS,
      },
      backend.registry,
      backend.bus,
      backend.nodes,
      metrics,
      logger,
      formatIp,
    );
    const listener = new GameListener(
      {
        host: config.host,
        port: config.port,
        replyGapMs: config.replyGapMs,
        idleTimeoutMs: config.idleTimeoutMs,
        maxLineBytes: config.maxLineBytes,
        udpReceiveBufferBytes: config.udpReceiveBufferBytes,
        udpRatePerIp: config.udpRatePerIp,
        maxConnectionsPerIp: config.maxConnectionsPerIp,
        proxyProtocol: config.proxyProtocol === "off" ? null : config.proxyProtocol,
        proxyTrustedCidrs: config.proxyTrustedCidrs,
      },
      mediator,
      metrics,
      logger,
      formatIp,
    );
    let node: MasterNode | null = null;
    let http: FastifyInstance | null;
    const readiness = () => node?.readiness() ?? { ready: false, checks: { started: false } };
    // The status page charts this node's counters: sampled only when there is a page.
    const status =
      config.httpPort === 0
        ? null
        : createNodeStatus({
            config,
            backend,
            metrics,
            version: MASTER_VERSION,
            readiness,
            sourceAddressCollapsed: () => listener.sourceMonitor.isCollapsed,
          });
    try {
      http =
        config.httpPort === 0
          ? null
          : await buildHttpServer({
              registry: backend.registry,
              nodes: backend.nodes,
              metrics,
              logger,
              adminToken: config.adminToken,
              nodeId: config.nodeId,
              readiness,
              status: status?.source,
            });
    } catch (error) {
      status?.close();
      await backend.close();
      throw error;
    }
    node = new MasterNode(config, backend, mediator, listener, http, metrics, logger, status);
    try {
      await listener.listen();
      if (http) await http.listen({ host: config.httpHost, port: config.httpPort });
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
        http: http ? `${config.httpHost}:${node.httpPort}` : "off",
        store: backend.status().mode,
      },
      `gmnet-master listening on ${config.host}:${listener.port} (TCP+UDP)`,
    );
    if (http) logger.info(adminExposure(config.adminToken));
    return node;
  }

  get gamePort(): number {
    return this.listener.port;
  }

  get httpPort(): number {
    const address = this.http?.server.address();
    return typeof address === "object" && address ? address.port : 0;
  }

  readiness(): Readiness {
    const checks = {
      listening: this.listener.isListening,
      store: this.backend.status().storeReachable,
      notDraining: !this.draining,
    };
    const warnings = this.listener.sourceMonitor.isCollapsed
      ? [
          "every recent game connection came from one source address: check that the load balancer keeps sources",
        ]
      : [];
    return { ready: checks.listening && checks.store && checks.notDraining, checks, warnings };
  }

  /** Keeps owned registrations alive and restores any the store lost; heartbeats the node. */
  async refresh(): Promise<void> {
    if (this.closed) return;
    const status = this.backend.status();
    this.metrics.storeReachable.set(status.storeReachable ? 1 : 0);
    try {
      await this.mediator.retryFailedUnregisters();
      const owned = this.mediator.ownedRegistrations();
      const results = await this.backend.registry.refreshOwned(owned);
      const superseded: string[] = [];
      let restored = 0;
      for (const [i, result] of results.entries()) {
        const registration = owned[i] as (typeof owned)[number];
        if (result.outcome === "superseded") superseded.push(registration.ownerConnectionId);
        else if (!this.mediator.holds(registration.ownerConnectionId)) {
          // Closed while the refresh was under way: what it just restored must go again.
          await this.backend.registry.unregisterServer(
            registration.ip,
            registration.ownerConnectionId,
          );
        } else {
          if (result.outcome === "restored") restored++;
          this.mediator.updateUdpPort(registration.ownerConnectionId, result.udpPort);
        }
      }
      if (restored > 0) this.logger.info({ restored }, "restored registrations the store had lost");
      this.mediator.closeSuperseded(superseded);
      if (this.closed) return; // a refresh must not heartbeat a node that left
      await this.backend.nodes.heartbeat({
        nodeId: this.config.nodeId,
        startedAtMs: this.startedAtMs,
        lastSeenMs: Date.now(),
        servers: this.mediator.ownedCount,
      });
      this.metrics.registeredServers.set(
        { scope: "cluster" },
        await this.backend.registry.countServers(),
      );
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, "refresh failed; will retry");
    }
  }

  /**
   * SIGTERM: stop accepting, let in-flight connects finish, remove own
   * registrations (compare-and-delete), close sockets so games reconnect
   * through other nodes, leave the cluster.
   */
  async drain(): Promise<void> {
    if (this.draining || this.closed) return;
    this.draining = true;
    this.logger.info({ drainTimeoutMs: this.config.drainTimeoutMs }, "draining");
    await this.listener.stopAccepting();
    await Promise.race([this.mediator.whenIdle(), delay(this.config.drainTimeoutMs)]);
    const owned = this.mediator.ownedRegistrations();
    await Promise.race([
      Promise.all(
        owned.map((r) =>
          this.backend.registry.unregisterServer(r.ip, r.ownerConnectionId).catch(() => false),
        ),
      ),
      delay(Math.max(1000, this.config.drainTimeoutMs / 2)),
    ]);
    this.logger.info({ servers: owned.length }, "drained: closing game sockets");
    await this.listener.drainSessions(Math.max(1000, this.config.replyGapMs * 20));
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.status?.close();
    await this.listener.close();
    await this.backend.nodes.leave(this.config.nodeId).catch(() => undefined);
    await this.http?.close();
    await this.backend.close();
  }

  private scheduleRefresh(): void {
    this.refreshTimer = setInterval(
      () => void this.refresh(),
      Math.max(250, Math.floor(this.config.leaseMs / 3)),
    );
    this.refreshTimer.unref();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

const defaultBackend: BackendFactory = async (config, timings, metrics, logger) => {
  if (config.redis === null) return new MemoryBackend(config.nodeId, timings);
  return RedisBackend.start(
    { target: config.redis, keyPrefix: config.keyPrefix, nodeId: config.nodeId, timings },
    metrics,
    logger,
  );
};
