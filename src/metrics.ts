// Prometheus metrics of one node. Label sets are bounded (never an IP).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { TcpCommandKind, UdpCommandKind } from "./protocol/index.js";

import { BAD_INPUT_REASONS } from "./bad-input.js";
import { MASTER_VERSION } from "./version.js";

/** What a game TCP connection turned out to be (the gauge's labels). */
export const CONNECTION_ROLES = ["unknown", "server", "client", "lobby"] as const;
export type ConnectionRole = (typeof CONNECTION_ROLES)[number];

/** How a TCP connect ended; every value but `found` is answered -2. */
export const CONNECT_OUTCOMES = [
  "found",
  "not_found",
  "no_udp_endpoint",
  "server_udp_unknown",
  "server_busy",
  "handover_timeout",
  "rate_limited",
  "owner_gone",
  "owner_unreachable",
  "store_error",
] as const;

export type ConnectOutcome = (typeof CONNECT_OUTCOMES)[number];

/**
 * Counts of the per-connect series as plain numbers, handed to prom-client
 * when it reads them (a scrape, the status page): its inc() hashes the labels
 * into a string on every call, even through labels(), which the hot path
 * should not pay.
 */
class UnpublishedCounts<K> {
  private readonly counts = new Map<K, number>();

  add(key: K, delta = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + delta);
  }

  get(key: K): number {
    return this.counts.get(key) ?? 0;
  }

  /** Hands each count over once: a counter's collect() adds them. */
  publish(add: (key: K, count: number) => void): void {
    for (const [key, count] of this.counts) {
      if (count === 0) continue;
      add(key, count);
      this.counts.set(key, 0);
    }
  }
}

export class MasterMetrics {
  /** prom-client's registry of this node's metrics (not the game registry: that is the store's). */
  readonly prometheus = new Registry();

  // Declared before the metrics whose collect() publishes them.
  private readonly openByRole = new UnpublishedCounts<ConnectionRole>();
  private readonly commandsOk = new UnpublishedCounts<TcpCommandKind>();
  private readonly datagramsOk = new UnpublishedCounts<UdpCommandKind>();
  private readonly outcomes = new UnpublishedCounts<ConnectOutcome>();

  readonly registeredServers = new Gauge({
    name: "gmnet_registered_servers",
    help: "Registered game servers: held by this node (scope=node) or in the whole cluster (scope=cluster)",
    labelNames: ["scope"] as const,
    registers: [this.prometheus],
  });
  readonly tcpConnections = new Gauge({
    name: "gmnet_tcp_connections",
    help: "Open TCP connections by role",
    labelNames: ["role"] as const,
    registers: [this.prometheus],
    collect: () => {
      for (const role of CONNECTION_ROLES)
        this.tcpConnections.set({ role }, this.openByRole.get(role));
    },
  });
  readonly udpDatagrams = new Counter({
    name: "gmnet_udp_datagrams_total",
    help: "UDP datagrams received, by command and result",
    labelNames: ["command", "result"] as const,
    registers: [this.prometheus],
    collect: () =>
      this.datagramsOk.publish((command, n) => this.udpDatagrams.inc({ command, result: "ok" }, n)),
  });
  readonly tcpCommands = new Counter({
    name: "gmnet_tcp_commands_total",
    help: "TCP commands received, by command and result",
    labelNames: ["command", "result"] as const,
    registers: [this.prometheus],
    collect: () =>
      this.commandsOk.publish((command, n) => this.tcpCommands.inc({ command, result: "ok" }, n)),
  });
  readonly connectOutcomes = new Counter({
    name: "gmnet_connect_outcomes_total",
    help: "Outcomes of TCP connect requests",
    labelNames: ["outcome"] as const,
    registers: [this.prometheus],
    collect: () => this.outcomes.publish((outcome, n) => this.connectOutcomes.inc({ outcome }, n)),
  });
  readonly connectRepeats = new Counter({
    name: "gmnet_connect_repeats_total",
    help: "Connects repeated for the same client IP and server within the punch timeout (a likely punch failure)",
    registers: [this.prometheus],
  });
  readonly mediationSeconds = new Histogram({
    name: "gmnet_mediation_duration_seconds",
    help: "From a TCP connect read to both -1 replies handed to the sockets (or routed), by route",
    labelNames: ["route"] as const,
    buckets: [
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
    ],
    registers: [this.prometheus],
  });
  readonly busMessages = new Counter({
    name: "gmnet_bus_messages_total",
    help: "Messages between nodes, by direction (sent/received), type and result",
    labelNames: ["direction", "type", "result"] as const,
    registers: [this.prometheus],
  });
  readonly redisErrors = new Counter({
    name: "gmnet_redis_errors_total",
    help: "Redis command or connection errors",
    registers: [this.prometheus],
  });
  readonly redisReconnects = new Counter({
    name: "gmnet_redis_reconnects_total",
    help: "Redis reconnections after a lost connection",
    registers: [this.prometheus],
  });
  readonly badInput = new Counter({
    name: "gmnet_bad_input_total",
    help: "Rejected input by reason",
    labelNames: ["reason"] as const,
    registers: [this.prometheus],
  });
  readonly lobbyRequests = new Counter({
    name: "gmnet_lobby_requests_total",
    help: "lobby2 requests by result",
    labelNames: ["result"] as const,
    registers: [this.prometheus],
  });
  readonly lobbyCache = new Counter({
    name: "gmnet_lobby_cache_total",
    help: "lobby2 answers from the node's lobby cache (hit) or from the store (miss)",
    labelNames: ["result"] as const,
    registers: [this.prometheus],
  });
  readonly storeReachable = new Gauge({
    name: "gmnet_store_up",
    help: "1 while the shared store (Redis) is reachable, 0 otherwise",
    registers: [this.prometheus],
  });
  readonly draining = new Gauge({
    name: "gmnet_draining",
    help: "1 while this node drains (not ready; handing its game servers over)",
    registers: [this.prometheus],
  });
  readonly drainOverrun = new Gauge({
    name: "gmnet_drain_overrun",
    help: "1 while this node drains past its deadline (GMNET_DRAIN_TIMEOUT_MS)",
    registers: [this.prometheus],
  });
  readonly drainHandovers = new Counter({
    name: "gmnet_drain_handovers_total",
    help: "Game servers a draining node handed over: on_time (just before their ping) or deadline (reset at the drain deadline)",
    labelNames: ["result"] as const,
    registers: [this.prometheus],
  });
  readonly sourceAddressCollapsed = new Gauge({
    name: "gmnet_source_address_collapsed",
    help: "1 when recent game connections all came from one source address (a load balancer hiding sources)",
    registers: [this.prometheus],
  });

  /** The histogram's label children, bound once (an observe still finds its bucket by labels). */
  private readonly mediationByRoute = new Map<"local" | "remote", { observe(v: number): void }>();

  /** One open connection more (+1) or less (-1) in `role`. */
  countConnection(role: ConnectionRole, delta: 1 | -1): void {
    this.openByRole.add(role, delta);
  }

  countTcpCommandOk(kind: TcpCommandKind): void {
    this.commandsOk.add(kind);
  }

  countDatagramOk(kind: UdpCommandKind): void {
    this.datagramsOk.add(kind);
  }

  countConnectOutcome(outcome: ConnectOutcome): void {
    this.outcomes.add(outcome);
  }

  observeMediation(route: "local" | "remote", seconds: number): void {
    let child = this.mediationByRoute.get(route);
    if (!child) {
      child = this.mediationSeconds.labels(route);
      this.mediationByRoute.set(route, child);
    }
    child.observe(seconds);
  }

  constructor(options: { processMetrics: boolean } = { processMetrics: true }) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.prometheus });
    // Every series exists from the start, so rates and alerts see a 0, not nothing.
    for (const reason of BAD_INPUT_REASONS) this.badInput.inc({ reason }, 0);
    for (const outcome of CONNECT_OUTCOMES) this.connectOutcomes.inc({ outcome }, 0);
  }

  /** Always 1: the labels say which release and Node.js runtime this node runs. */
  readonly buildInfo = new Gauge({
    name: "gmnet_build_info",
    help: "Always 1; labelled with this node's gmnet-master version and Node.js version",
    labelNames: ["version", "node_version"] as const,
    registers: [this.prometheus],
    collect() {
      this.set({ version: MASTER_VERSION, node_version: process.versions.node }, 1);
    },
  });
}
