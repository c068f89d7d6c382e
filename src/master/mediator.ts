// The master's logic: registrations, connect mediation, lobby. Called by the
// transport with decoded commands; talks to the shared state only through the
// Registry / Bus seam, so one node and a Redis cluster run the same code.
import type { Logger } from "pino";
import type {
  Bus,
  NodeDirectory,
  NodeMessage,
  Registry,
  ServerRegistration,
} from "../cluster/types.js";
import type { LobbyOrder } from "../config/index.js";
import type { BadInputLog } from "../bad-input.js";
import type { IpFormatter } from "../logging.js";
import type { ConnectOutcome, MasterMetrics } from "../metrics.js";
import {
  encodeIsTesting,
  encodeLobby,
  encodePeerFound,
  encodeServerNotFound,
  encodeTestingInfosOff,
  encodeVersion,
  LOBBY_DATA_FIELDS,
  type LobbyQuery,
  normalizeIp,
  type TcpCommand,
  type UdpCommand,
} from "../protocol/index.js";
import { LogThrottle } from "../transport/log-throttle.js";
import type { CommandHandler, GameConnection } from "../transport/types.js";
import { Admission, type AdmissionOptions } from "./admission.js";
import { compareVersions } from "./version.js";

export interface MediatorOptions extends AdmissionOptions {
  nodeId: string;
  masterVersion: string;
  clientUdpWaitMs: number;
  lobbyEnabled: boolean;
  lobbyOrder: LobbyOrder;
  minVersion: string;
  /** A second connect for the same pair within this window counts as a likely punch failure. */
  repeatWindowMs: number;
}

interface OwnedServer {
  connection: GameConnection;
  /** Null while the store has not answered the registration yet. */
  registration: ServerRegistration | null;
}

/** A classic `reg` publishes no lobby data: eight empty fields. */
const EMPTY_LOBBY_DATA: readonly string[] = Object.freeze(Array(LOBBY_DATA_FIELDS).fill(""));

export class Mediator implements CommandHandler {
  /** Registered server sockets held by this node, by connection id. */
  private readonly owned = new Map<string, OwnedServer>();
  private readonly recentConnects = new Map<string, number>();
  private readonly failureLog = new LogThrottle();
  /** connection id → server IP whose unregister failed (store unreachable); retried on refresh. */
  private readonly failedUnregisters = new Map<string, string>();
  private inFlight = 0;
  private readonly admission: Admission;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly options: MediatorOptions,
    private readonly registry: Registry,
    private readonly bus: Bus,
    private readonly nodes: NodeDirectory,
    private readonly metrics: MasterMetrics,
    private readonly logger: Logger,
    private readonly formatIp: IpFormatter,
    private readonly badInput: BadInputLog,
  ) {
    this.admission = new Admission(options);
    bus.onMessage((message) => this.onNodeMessage(message));
  }

  get ownedCount(): number {
    return this.owned.size;
  }

  ownedRegistrations(): ServerRegistration[] {
    const registrations: ServerRegistration[] = [];
    for (const entry of this.owned.values())
      if (entry.registration) registrations.push(entry.registration);
    return registrations;
  }

  /** Whether this node still holds the socket of connection `id`. */
  holds(connectionId: string): boolean {
    return this.owned.has(connectionId);
  }

  /** The store's view of an owned registration's UDP port (it may bind after the TCP reg). */
  updateUdpPort(connectionId: string, udpPort: number | null): void {
    const registration = this.owned.get(connectionId)?.registration;
    if (registration && udpPort !== null) registration.udpPort = udpPort;
  }

  /** Retries the compare-and-deletes the store could not take when their sockets closed. */
  async retryFailedUnregisters(): Promise<void> {
    for (const [connectionId, ip] of [...this.failedUnregisters]) {
      try {
        await this.registry.unregisterServer(ip, connectionId);
        this.failedUnregisters.delete(connectionId);
      } catch {
        return; // still unreachable: next refresh
      }
    }
  }

  /** Resolves when no command is being processed (used while draining). */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  onUdpCommand(ip: string, port: number, command: UdpCommand): void {
    const work =
      command.kind === "reg"
        ? this.registry.recordServerUdp(ip, port)
        : this.registry.recordClientUdp(ip, port);
    this.track(
      work.catch((error: Error) => {
        this.metrics.udpDatagrams.inc({ command: command.kind, result: "store_error" });
        // One line a second at most: while Redis is away every datagram fails.
        const suppressed = this.failureLog.allow(`udp-${command.kind}`);
        if (suppressed !== null) {
          this.logger.warn(
            { err: error.message, command: command.kind, suppressed },
            "could not record UDP endpoint",
          );
        }
      }),
    );
  }

  onTcpCommand(connection: GameConnection, command: TcpCommand): Promise<void> | undefined {
    switch (command.kind) {
      case "reg":
        return this.track(this.register(connection, "", EMPTY_LOBBY_DATA));
      case "reg2":
        return this.track(this.registerVersioned(connection, command.version, command.data));
      case "ping":
        return; // keepalive: the socket staying open is what matters
      case "connect":
        return this.track(this.connect(connection, command.serverIp));
      case "lobby2":
        return this.track(this.lobby(connection, command.query));
      case "version":
        connection.send(encodeVersion(this.options.masterVersion));
        return;
      case "istesting":
        connection.send(encodeIsTesting(false));
        return;
      case "testinginfos":
        connection.send(encodeTestingInfosOff());
        return;
      default: {
        const unreachable: never = command;
        return unreachable;
      }
    }
  }

  onTcpClosed(connection: GameConnection): void {
    const entry = this.owned.get(connection.id);
    if (!entry) return;
    this.owned.delete(connection.id);
    this.metrics.registeredServers.set({ scope: "node" }, this.owned.size);
    const ip = connection.remoteIp;
    this.track(
      this.registry
        .unregisterServer(ip, connection.id)
        .then((removed) => {
          this.logger.info({ server: this.formatIp(ip), removed }, "server socket closed");
        })
        .catch((error: Error) => {
          // The lease expires it if the store cannot be told now.
          this.logger.warn(
            { err: error.message, server: this.formatIp(ip) },
            "could not unregister server",
          );
        }),
    );
  }

  /** Routes a closed or superseded owner's sockets; called with messages from other nodes. */
  private onNodeMessage(message: NodeMessage): void {
    const entry = this.owned.get(message.ownerConnectionId);
    this.metrics.busMessages.inc({
      direction: "received",
      type: message.type,
      result: entry ? "ok" : "stale",
    });
    if (!entry) {
      if (message.type === "peer-found") {
        // The store still names a socket this node no longer holds (its close could not
        // reach the store): remove exactly that registration so the next connect gets -2.
        this.logger.warn(
          { server: this.formatIp(message.serverIp) },
          "routed -1 for a server socket this node no longer holds: removing the stale registration",
        );
        this.track(
          this.registry
            .unregisterServer(message.serverIp, message.ownerConnectionId)
            .catch(() => false),
        );
      }
      return;
    }
    switch (message.type) {
      case "peer-found":
        entry.connection.send(encodePeerFound(message.clientIp, message.clientUdpPort));
        return;
      case "superseded":
        entry.connection.close("superseded by a newer registration from the same IP");
        return;
      default: {
        const unreachable: never = message;
        return unreachable;
      }
    }
  }

  /** Closes sockets whose registrations the store says another connection now owns. */
  closeSuperseded(connectionIds: readonly string[]): void {
    for (const id of connectionIds) this.owned.get(id)?.connection.close("registration superseded");
  }

  private async registerVersioned(
    connection: GameConnection,
    version: string,
    data: readonly string[],
  ): Promise<void> {
    const minimum = this.options.minVersion;
    if (minimum !== "" && compareVersions(version, minimum) < 0) {
      this.badInput.report("version_too_low", "closing reg2 below the minimum version", {
        version: version.slice(0, 32),
        minimum,
      });
      connection.close("version too low");
      return;
    }
    await this.register(connection, version, data);
  }

  private async register(
    connection: GameConnection,
    version: string,
    data: readonly string[],
  ): Promise<void> {
    connection.role = "server";
    connection.keepAlive();
    // Held before the store answers, so a message for this socket racing the reply finds it.
    const previousEntry = this.owned.get(connection.id);
    this.owned.set(connection.id, {
      connection,
      registration: previousEntry?.registration ?? null,
    });
    let result: Awaited<ReturnType<Registry["registerServer"]>>;
    try {
      result = await this.registry.registerServer({
        ip: connection.remoteIp,
        version,
        data: [...data],
        ownerNodeId: this.options.nodeId,
        ownerConnectionId: connection.id,
      });
    } catch (error) {
      // The script may have run even if its reply was lost: undo it on the next refresh.
      this.failedUnregisters.set(connection.id, connection.remoteIp);
      this.owned.delete(connection.id);
      // Closing makes the game redo UDP + TCP reg on its next ping, once the store is back.
      this.logger.warn({ err: (error as Error).message }, "registration failed: store unreachable");
      connection.close("store unreachable");
      return;
    }
    if (connection.closed) {
      // The socket closed while the store answered: undo, unless a newer one already replaced it.
      this.owned.delete(connection.id);
      await this.registry.unregisterServer(connection.remoteIp, connection.id).catch(() => {
        this.failedUnregisters.set(connection.id, connection.remoteIp);
        return false;
      });
      return;
    }
    this.owned.set(connection.id, { connection, registration: result.registration });
    this.metrics.registeredServers.set({ scope: "node" }, this.owned.size);
    this.logger.info(
      {
        server: this.formatIp(connection.remoteIp),
        udpPort: result.registration.udpPort,
        version: version || "classic",
        replaced: result.replaced !== null,
      },
      "server registered",
    );
    const replaced = result.replaced;
    if (!replaced) return;
    if (replaced.ownerNodeId === this.options.nodeId) {
      this.owned
        .get(replaced.ownerConnectionId)
        ?.connection.close("superseded by a newer registration");
    } else {
      const message: NodeMessage = {
        type: "superseded",
        serverIp: connection.remoteIp,
        ownerConnectionId: replaced.ownerConnectionId,
      };
      await this.sendToNode(replaced.ownerNodeId, message);
    }
  }

  private async connect(connection: GameConnection, serverIpText: string): Promise<void> {
    const startedAt = process.hrtime.bigint();
    connection.role = "client";
    const clientIp = connection.remoteIp;
    const serverIp = normalizeIp(serverIpText);
    if (serverIp === null) {
      this.badInput.report("bad_server_ip", "connect names no IP address", {
        server: serverIpText.slice(0, 64),
      });
      this.finishConnect(connection, "not_found", {});
      return;
    }
    if (!this.admission.allowConnect(clientIp)) {
      this.badInput.report("connect_rate_limited", "connect answered -2: source over its rate", {
        client: this.formatIp(clientIp),
      });
      return this.finishConnect(connection, "rate_limited", {});
    }
    this.noteRepeat(clientIp, serverIp);
    let server: ServerRegistration | null;
    let clientUdpPort: number | null;
    try {
      const lookup = await this.registry.beginConnect(serverIp, clientIp);
      server = lookup.server;
      clientUdpPort = lookup.clientUdpPort;
      if (server && server.udpPort !== null && clientUdpPort === null) {
        clientUdpPort = await this.registry.awaitClientUdp(clientIp, this.options.clientUdpWaitMs);
      }
    } catch (error) {
      this.finishConnect(connection, "store_error", { err: (error as Error).message });
      return;
    }
    const context = { server: this.formatIp(serverIp), client: this.formatIp(clientIp) };
    if (!server) return this.finishConnect(connection, "not_found", context);
    if (server.udpPort === null)
      return this.finishConnect(connection, "server_udp_unknown", context);
    if (clientUdpPort === null) return this.finishConnect(connection, "no_udp_endpoint", context);

    const toServer = encodePeerFound(clientIp, clientUdpPort);
    let route: "local" | "remote";
    let delivered: boolean;
    if (server.ownerNodeId === this.options.nodeId) {
      route = "local";
      const owner = this.owned.get(server.ownerConnectionId);
      if (owner && !owner.connection.closed && !owner.connection.send(toServer)) {
        return this.finishConnect(connection, "server_busy", context);
      }
      delivered = owner !== undefined && !owner.connection.closed;
    } else {
      route = "remote";
      delivered = await this.sendToNode(server.ownerNodeId, {
        type: "peer-found",
        serverIp,
        ownerConnectionId: server.ownerConnectionId,
        clientIp,
        clientUdpPort,
      });
    }
    if (!delivered) {
      // A node that still heartbeats may only be reconnecting its subscriber: never delete
      // live state on one missed delivery; the lease prunes it if the node is really dead.
      const ownerAlive =
        route === "remote" && (await this.nodes.isAlive(server.ownerNodeId).catch(() => true));
      if (ownerAlive) {
        return this.finishConnect(connection, "owner_unreachable", {
          ...context,
          owner: server.ownerNodeId,
        });
      }
      // Nobody holds that socket any more: the entry is stale. Remove exactly it.
      await this.registry.unregisterServer(serverIp, server.ownerConnectionId).catch(() => false);
      return this.finishConnect(connection, "owner_gone", {
        ...context,
        owner: server.ownerNodeId,
      });
    }
    connection.send(encodePeerFound(server.ip, server.udpPort));
    const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
    this.metrics.mediationSeconds.observe({ route }, seconds);
    this.metrics.connectOutcomes.inc({ outcome: "found" });
    // Per connect: debug (the counts are in metrics; info would be a line per connect).
    this.logger.debug(
      {
        ...context,
        serverUdpPort: server.udpPort,
        clientUdpPort,
        route,
        ms: Math.round(seconds * 1e4) / 10,
      },
      "connect mediated",
    );
  }

  private finishConnect(
    connection: GameConnection,
    outcome: ConnectOutcome,
    context: object,
  ): void {
    this.metrics.connectOutcomes.inc({ outcome });
    // Failures are what operators look for: at info, but at most one line per outcome a second.
    const suppressed = this.failureLog.allow(outcome);
    if (suppressed !== null)
      this.logger.info({ ...context, outcome, suppressed }, "connect answered -2");
    else this.logger.debug({ ...context, outcome }, "connect answered -2");
    connection.send(encodeServerNotFound());
  }

  private noteRepeat(clientIp: string, serverIp: string): void {
    const key = `${clientIp}>${serverIp}`;
    const nowMs = Date.now();
    const last = this.recentConnects.get(key);
    if (last !== undefined && nowMs - last < this.options.repeatWindowMs) {
      this.metrics.connectRepeats.inc();
      this.logger.info(
        { client: this.formatIp(clientIp), server: this.formatIp(serverIp) },
        "repeated connect for the same server: the previous punch likely failed",
      );
    }
    if (this.recentConnects.size >= 10_000) {
      for (const [other, at] of this.recentConnects) {
        if (nowMs - at >= this.options.repeatWindowMs) this.recentConnects.delete(other);
      }
      if (this.recentConnects.size >= 10_000) this.recentConnects.clear();
    }
    this.recentConnects.set(key, nowMs);
  }

  private async lobby(connection: GameConnection, query: LobbyQuery): Promise<void> {
    connection.role = "lobby";
    if (this.options.lobbyEnabled && !this.admission.allowLobby(connection.remoteIp)) {
      this.badInput.report(
        "lobby_rate_limited",
        "lobby2 answered with an empty list: source over its rate",
        {
          client: this.formatIp(connection.remoteIp),
        },
      );
      this.metrics.lobbyRequests.inc({ result: "rate_limited" });
      connection.send(encodeLobby([]));
      connection.endAfterReplies();
      return;
    }
    if (!this.options.lobbyEnabled) {
      this.metrics.lobbyRequests.inc({ result: "disabled" });
      connection.endAfterReplies(); // the reference stays silent when its lobby is off
      return;
    }
    const effective: LobbyQuery =
      this.options.lobbyOrder === "reference"
        ? { ...query, sortDirection: query.sortDirection === "ASC" ? "DESC" : "ASC" }
        : query;
    try {
      const servers = await this.registry.queryLobby(effective);
      connection.send(
        encodeLobby(
          servers.map((s) => ({ ip: s.ip, data: s.data, createdTimeSec: s.createdTimeSec })),
        ),
      );
      this.metrics.lobbyRequests.inc({ result: "ok" });
    } catch (error) {
      // An empty list lets the game's lobby screen finish instead of waiting forever.
      connection.send(encodeLobby([]));
      this.metrics.lobbyRequests.inc({ result: "store_error" });
      this.logger.warn(
        { err: (error as Error).message },
        "lobby query failed: answered an empty list",
      );
    }
    connection.endAfterReplies();
  }

  private async sendToNode(nodeId: string, message: NodeMessage): Promise<boolean> {
    try {
      const delivered = await this.bus.send(nodeId, message);
      this.metrics.busMessages.inc({
        direction: "sent",
        type: message.type,
        result: delivered ? "ok" : "no_receiver",
      });
      return delivered;
    } catch (error) {
      this.metrics.busMessages.inc({ direction: "sent", type: message.type, result: "error" });
      this.logger.warn({ err: (error as Error).message, node: nodeId }, "bus send failed");
      return false;
    }
  }

  private track(work: Promise<unknown>): Promise<void> {
    this.inFlight++;
    return work
      .then(() => undefined)
      .catch((error: Error) =>
        this.logger.error({ err: error.message }, "unexpected error in command"),
      )
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const resolve of waiters) resolve();
        }
      });
  }
}
