// One client's TCP `connect`, from the request to both `-1`s (or the client's
// `-2`): find the server, book its reply, claim the client's UDP endpoint
// (waiting for it, or for the server's hand-over, a bounded time), tell the
// server wherever its socket is held, then the client. Every path answers:
// the GML client never times out waiting for the master.
import type { Logger } from "pino";
import type { BadInputLog } from "../bad-input-log.js";
import type {
  ConnectLookup,
  HandedClientUdp,
  NodeDirectory,
  NodeMessage,
  Registry,
} from "../cluster/types.js";
import type { IpFormatter } from "../logging.js";
import type { ConnectOutcome, MasterMetrics } from "../metrics.js";
import { encodePeerFound, encodeServerNotFound, normalizeIp } from "../protocol/index.js";
import type { GameConnection } from "../transport/types.js";
import type { ThrottledLog } from "../util/log-throttle.js";
import type { Admission } from "./admission.js";
import type { OwnedServers } from "./owned-servers.js";
import type { RepeatedConnects } from "./repeated-connects.js";

export interface ConnectDependencies {
  nodeId: string;
  clientUdpWaitMs: number;
  /** The wait when the client already has an older endpoint (what the connect takes after it). */
  olderEndpointWaitMs: number;
  /** How long a connect waits for a handed-over server to register again. */
  handoverWaitMs: number;
  /** An owner node whose heartbeat is older than this is not routed a -1. */
  heartbeatStaleMs: number;
  registry: Registry;
  nodes: NodeDirectory;
  owned: OwnedServers;
  admission: Admission;
  repeats: RepeatedConnects;
  metrics: MasterMetrics;
  badInput: BadInputLog;
  logger: Logger;
  formatIp: IpFormatter;
  /** Failures are what operators look for: one info line per outcome a second at most. */
  log: ThrottledLog;
  /** Sends a message to another node; false when nobody received it. */
  sendToNode: (nodeId: string, message: NodeMessage) => Promise<boolean>;
}

export class ConnectAttempt {
  private readonly startedAtMs = performance.now();
  private readonly clientIp: string;
  private serverIp: string | null = null;
  /** Details for a log line; made only on the paths that log. */
  private extra: Record<string, unknown> | undefined;

  constructor(
    private readonly deps: ConnectDependencies,
    private readonly connection: GameConnection,
  ) {
    this.clientIp = connection.remoteIp;
  }

  async run(serverIpText: string): Promise<void> {
    const { deps } = this;
    const serverIp = normalizeIp(serverIpText);
    if (serverIp === null) {
      deps.badInput.report("bad_server_ip", "connect names no IP address", {
        server: serverIpText.slice(0, 64),
      });
      return this.answerNotFound("not_found");
    }
    this.serverIp = serverIp;
    if (!deps.admission.allowConnect(this.clientIp)) {
      deps.badInput.report("connect_rate_limited", "connect answered -2: source over its rate", {
        client: deps.formatIp(this.clientIp),
      });
      return this.answerNotFound("rate_limited");
    }
    if (deps.repeats.note(this.clientIp, serverIp)) {
      deps.metrics.connectRepeats.inc();
      deps.log.info(
        this.describe(),
        "repeated connect for the same server: the previous punch likely failed",
      );
    }
    let lookup: ConnectLookup;
    let clientUdp: HandedClientUdp;
    try {
      ({ lookup, clientUdp } = await this.lookUp(serverIp));
    } catch (error) {
      // The error object, so the line carries its stack (pino serialises `err`).
      this.note("err", error);
      return this.answerNotFound("store_error");
    }
    switch (lookup.status) {
      case "not_found":
        return this.answerNotFound("not_found");
      case "server_udp_unknown":
        return this.answerNotFound("server_udp_unknown");
      case "busy":
        return this.answerNotFound("server_busy");
      case "handover":
        return this.answerNotFound("handover_timeout");
      default:
        break;
    }
    if (clientUdp === null) return this.answerNotFound("no_udp_endpoint");
    // Its UDP `connect` came while it waited, but by then the server's backlog was full.
    if (clientUdp === "busy") return this.answerNotFound("server_busy");
    const clientUdpPort = clientUdp;
    const server = lookup.server;
    const serverUdpPort = server.udpPort as number;
    if (this.ownerStopped(server.ownerNodeId, lookup.ownerHeartbeatMs)) {
      // Its subscription may still count as a receiver: a -1 routed there would be lost.
      this.note("owner", server.ownerNodeId);
      return this.answerNotFound("owner_unreachable");
    }
    const delivery = await this.tellServer(
      server.ownerNodeId,
      server.ownerConnectionId,
      serverIp,
      clientUdpPort,
    );
    if (delivery !== "found") {
      if (delivery === "owner_gone") {
        // Nobody holds that socket any more: the entry is stale. Remove exactly it.
        await deps.owned.unregister(serverIp, server.ownerConnectionId);
      }
      this.note("owner", server.ownerNodeId);
      return this.answerNotFound(delivery);
    }
    this.connection.send(encodePeerFound(server.ip, serverUdpPort));
    const seconds = (performance.now() - this.startedAtMs) / 1000;
    const route = server.ownerNodeId === deps.nodeId ? "local" : "remote";
    deps.metrics.observeMediation(route, seconds);
    deps.metrics.countConnectOutcome("found");
    // Per connect: debug (the counts are in metrics; info would be a line per connect).
    if (deps.logger.isLevelEnabled("debug")) {
      deps.logger.debug(
        {
          ...this.describe(),
          serverUdpPort,
          clientUdpPort,
          route,
          ms: Math.round(seconds * 1e4) / 10,
        },
        "connect mediated",
      );
    }
  }

  /**
   * The server and the client's UDP endpoint, waiting (bounded, woken, never
   * polling) for what is not there yet: a handed-over server's next
   * registration, the client's UDP `connect`. Every lookup that says wait is
   * awaited, which releases it.
   */
  private async lookUp(
    serverIp: string,
  ): Promise<{ lookup: ConnectLookup; clientUdp: HandedClientUdp }> {
    const { deps } = this;
    const startedAtMs = performance.now();
    let lookup = await deps.registry.beginConnect(serverIp, this.clientIp);
    if (lookup.status === "handover") {
      // Its socket was reset so the game re-registers on another node: wait for that,
      // then look once more even after a time-out, since a wake-up can be lost
      // (pub/sub is at most once) while the registration itself is in the store.
      await lookup.awaitRegistration(deps.handoverWaitMs);
      // What the client sent while this connect waited is as fresh as if sent just before.
      const waitedMs = Math.round(performance.now() - startedAtMs);
      lookup = await deps.registry.beginConnect(serverIp, this.clientIp, waitedMs);
      // Still handing over: no second wait (answered -2); this await only releases it.
      if (lookup.status === "handover") await lookup.awaitRegistration(0);
    }
    if (lookup.status !== "waiting" || !lookup.olderEndpoint)
      return { lookup, clientUdp: await clientUdpOf(lookup, deps.clientUdpWaitMs) };
    // Only an older endpoint (a forger's, maybe): a second for the client's own datagram,
    // which its TCP connect overtook, then the older one.
    const handed = await lookup.awaitClientUdp(deps.olderEndpointWaitMs);
    if (handed !== null) return { lookup, clientUdp: handed };
    // The older one went to another connect from that address, or expired meanwhile:
    // the rest of the UDP wait for the client's own datagram.
    const restMs = deps.clientUdpWaitMs - deps.olderEndpointWaitMs;
    if (restMs <= 0) return { lookup, clientUdp: null };
    const again = await deps.registry.beginConnect(serverIp, this.clientIp);
    if (again.status === "handover") await again.awaitRegistration(0);
    return { lookup: again, clientUdp: await clientUdpOf(again, restMs) };
  }

  /** Whether the owner node (not this one) has missed its last two heartbeats. */
  private ownerStopped(ownerNodeId: string, heartbeatMs: number | null): boolean {
    if (ownerNodeId === this.deps.nodeId || heartbeatMs === null) return false;
    return Date.now() - heartbeatMs > this.deps.heartbeatStaleMs;
  }

  /** Hands the server its `-1` on whichever node holds its socket. */
  private async tellServer(
    ownerNodeId: string,
    ownerConnectionId: string,
    serverIp: string,
    clientUdpPort: number,
  ): Promise<ConnectOutcome> {
    const { deps } = this;
    const message = {
      type: "peer-found",
      serverIp,
      ownerConnectionId,
      clientIp: this.clientIp,
      clientUdpPort,
    } as const;
    if (ownerNodeId === deps.nodeId) {
      const socket = deps.owned.connection(ownerConnectionId);
      // Reset for a hand-over since the lookup: delivered once the game registers again.
      if (socket === null && deps.owned.holdForward(message)) return "found";
      if (socket === null || socket.closed) return "owner_gone";
      return socket.send(encodePeerFound(this.clientIp, clientUdpPort)) ? "found" : "server_busy";
    }
    const delivered = await deps.sendToNode(ownerNodeId, message);
    if (delivered) return "found";
    // A node that still heartbeats may only be reconnecting its subscriber: never
    // delete live state on one missed delivery; its lease prunes it if it is dead.
    const ownerAlive = await deps.nodes.isAlive(ownerNodeId).catch(() => true);
    return ownerAlive ? "owner_unreachable" : "owner_gone";
  }

  private note(key: string, value: unknown): void {
    this.extra ??= {};
    this.extra[key] = value;
  }

  /** The IPs as the log-IP setting shows them: formatted only when a line is written. */
  private describe(): Record<string, unknown> {
    const { formatIp } = this.deps;
    return {
      ...(this.serverIp === null ? {} : { server: formatIp(this.serverIp) }),
      client: formatIp(this.clientIp),
      ...this.extra,
    };
  }

  /** Answers `-2` (the client then tries a direct connect) and counts why. */
  private answerNotFound(outcome: ConnectOutcome): void {
    this.deps.metrics.countConnectOutcome(outcome);
    this.deps.log.info({ ...this.describe(), outcome }, "connect answered -2", `-2:${outcome}`);
    this.connection.send(encodeServerNotFound());
  }
}

/** The client's port a lookup claimed, or the one it is handed within `waitMs` if it waits. */
async function clientUdpOf(lookup: ConnectLookup, waitMs: number): Promise<HandedClientUdp> {
  if (lookup.status === "ready") return lookup.clientUdpPort;
  return lookup.status === "waiting" ? lookup.awaitClientUdp(waitMs) : null;
}
