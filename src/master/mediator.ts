// The master's logic, called by the transport with decoded commands: it
// dispatches each to its use case (registration, connect, lobby) and routes
// messages from other nodes. It talks to the shared state only through the
// Registry / Bus / NodeDirectory seam, so one node and a Redis cluster run
// the same code.
import type { Logger } from "pino";
import type { BadInputLog } from "../bad-input-log.js";
import type {
  Bus,
  NodeDirectory,
  NodeMessage,
  PeerFoundMessage,
  Registry,
  ServerRegistration,
} from "../cluster/types.js";
import { CLIENT_UDP_FRESH_MS, heartbeatStaleMs } from "../cluster/timing.js";
import type { IpFormatter } from "../logging.js";
import type { MasterMetrics } from "../metrics.js";
import {
  encodeIsTesting,
  encodeLobby,
  encodePeerFound,
  encodeTestingInfosOff,
  encodeVersion,
  LOBBY_DATA_FIELDS,
  type LobbyQuery,
  type TcpCommand,
  type UdpCommand,
} from "../protocol/index.js";
import type { CommandHandler, GameConnection } from "../transport/types.js";
import { ThrottledLog } from "../util/log-throttle.js";
import { Admission, type AdmissionOptions } from "./admission.js";
import { ConnectAttempt, type ConnectDependencies } from "./connect.js";
import { InFlight } from "./in-flight.js";
import { LobbyService, type LobbyServiceOptions } from "./lobby-service.js";
import { OwnedServers } from "./owned-servers.js";
import { RepeatedConnects } from "./repeated-connects.js";
import { compareVersions } from "./compare-versions.js";

export interface MediatorOptions extends AdmissionOptions, LobbyServiceOptions {
  leaseMs: number;
  nodeId: string;
  masterVersion: string;
  clientUdpWaitMs: number;
  handoverWaitMs: number;
  lobbyEnabled: boolean;
  lobbyDataMaxBytes: number;
  minVersion: string;
  /** A second connect for the same pair within this window counts as a likely punch failure. */
  repeatWindowMs: number;
}

/** A classic `reg` publishes no lobby data: eight empty fields. */
const EMPTY_LOBBY_DATA: readonly string[] = Object.freeze(Array(LOBBY_DATA_FIELDS).fill(""));

export class Mediator implements CommandHandler {
  readonly owned: OwnedServers;
  readonly inFlight: InFlight;
  private readonly admission: Admission;
  private readonly lobbyService: LobbyService;
  private readonly connectDeps: ConnectDependencies;
  private readonly log: ThrottledLog;
  /** Registration slots taken per connection (the address to give back on close). */
  private readonly serverSlots = new Map<string, string>();

  constructor(
    private readonly options: MediatorOptions,
    private readonly registry: Registry,
    private readonly bus: Bus,
    nodes: NodeDirectory,
    private readonly metrics: MasterMetrics,
    logger: Logger,
    private readonly formatIp: IpFormatter,
    private readonly badInput: BadInputLog,
  ) {
    this.log = new ThrottledLog(logger);
    this.admission = new Admission(options);
    this.inFlight = new InFlight(logger);
    this.owned = new OwnedServers(registry, metrics, logger, formatIp);
    this.lobbyService = new LobbyService(registry, options, metrics, logger);
    this.connectDeps = {
      nodeId: options.nodeId,
      clientUdpWaitMs: options.clientUdpWaitMs,
      // Long enough for the game's own datagram, overtaken by its TCP connect, to land.
      olderEndpointWaitMs: Math.min(options.clientUdpWaitMs, CLIENT_UDP_FRESH_MS),
      handoverWaitMs: options.handoverWaitMs,
      heartbeatStaleMs: heartbeatStaleMs(options.leaseMs),
      registry,
      nodes,
      owned: this.owned,
      admission: this.admission,
      repeats: new RepeatedConnects(options.repeatWindowMs),
      metrics,
      badInput,
      logger,
      formatIp,
      log: this.log,
      sendToNode: (nodeId, message) => this.sendToNode(nodeId, message),
    };
    bus.onMessage((message) => this.onNodeMessage(message));
  }

  onUdpCommand(ip: string, port: number, command: UdpCommand): void {
    const work =
      command.kind === "reg"
        ? this.registry.recordServerUdp(ip, port).then((outcome) => {
            if (outcome === "conflict") this.reportPortConflict(ip);
          })
        : this.registry.recordClientUdp(ip, port);
    this.inFlight.track(
      work.catch((error: unknown) => {
        this.metrics.udpDatagrams.inc({ command: command.kind, result: "store_error" });
        // One line a second at most: while Redis is away every datagram fails.
        this.log.warn({ err: error, command: command.kind }, "could not record UDP endpoint");
      }),
    );
  }

  onTcpCommand(connection: GameConnection, command: TcpCommand): Promise<void> | undefined {
    switch (command.kind) {
      case "reg":
        return this.inFlight.track(this.register(connection, "", EMPTY_LOBBY_DATA));
      case "reg2":
        return this.inFlight.track(
          this.registerVersioned(connection, command.version, command.data),
        );
      case "ping":
        // The socket staying open is what matters; the cadence tells a drain when to hand over.
        this.owned.notePing(connection.id);
        return;
      case "connect":
        connection.assignRole("client");
        return this.inFlight.track(
          new ConnectAttempt(this.connectDeps, connection).run(command.serverIp),
        );
      case "lobby2":
        return this.inFlight.track(this.lobby(connection, command.query));
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
    const slot = this.serverSlots.get(connection.id);
    if (slot !== undefined) {
      this.serverSlots.delete(connection.id);
      this.admission.releaseServer(slot);
    }
    if (!this.owned.holds(connection.id)) return;
    this.inFlight.track(this.owned.release(connection, connection.remoteIp));
  }

  /** Routes a message from another node to the socket it names. */
  private onNodeMessage(message: NodeMessage): void {
    const socket = this.owned.connection(message.ownerConnectionId);
    this.metrics.busMessages.inc({
      direction: "received",
      type: message.type,
      result: socket ? "ok" : "stale",
    });
    if (!socket) return this.onMessageForGoneSocket(message);
    switch (message.type) {
      case "peer-found":
        if (!socket.send(encodePeerFound(message.clientIp, message.clientUdpPort))) {
          this.metrics.busMessages.inc({
            direction: "received",
            type: message.type,
            result: "dropped",
          });
        }
        return;
      case "superseded":
        this.owned.supersede(message.ownerConnectionId);
        return;
      default: {
        const unreachable: never = message;
        return unreachable;
      }
    }
  }

  private onMessageForGoneSocket(message: NodeMessage): void {
    if (message.type === "superseded") {
      // A handed-over game registered again: what was routed to its old socket goes on.
      this.inFlight.track(this.forwardHeld(this.owned.completeHandover(message.ownerConnectionId)));
      return;
    }
    // Booked before the hand-over reset the socket: delivered once the game re-registers.
    if (this.owned.holdForward(message)) return;
    this.inFlight.track(this.redirect(message));
  }

  /**
   * A -1 for a socket this node no longer holds: the game registered again
   * since the connect read its registration (the client already has its -1,
   * so the server must get one too), or the store still names the gone socket.
   */
  private async redirect(message: PeerFoundMessage): Promise<void> {
    let current: ServerRegistration | null;
    try {
      current = await this.registry.findServer(message.serverIp);
    } catch (error) {
      this.metrics.busMessages.inc({
        direction: "forwarded",
        type: message.type,
        result: "dropped",
      });
      this.log.warn({ err: error }, "store unreachable: a -1 for a gone server socket was dropped");
      return;
    }
    if (current !== null && current.ownerConnectionId !== message.ownerConnectionId) {
      return this.deliver(current, [message]);
    }
    // Its close could not reach the store: remove exactly that registration so
    // the next connect gets -2.
    this.log.warn(
      { server: this.formatIp(message.serverIp) },
      "routed -1 for a server socket this node no longer holds: removing the stale registration",
    );
    await this.owned.unregister(message.serverIp, message.ownerConnectionId);
  }

  /** Hands the -1s held for a handed-over socket to its game's new registration, wherever it is. */
  async forwardHeld(held: { ip: string; forwards: PeerFoundMessage[] } | null): Promise<void> {
    if (!held || held.forwards.length === 0) return;
    return this.deliver(await this.registry.findServer(held.ip), held.forwards);
  }

  /** Sends -1s meant for an older socket of a game to `current`, its registration now. */
  private async deliver(
    current: ServerRegistration | null,
    messages: readonly PeerFoundMessage[],
  ): Promise<void> {
    for (const message of messages) {
      const forward = { ...message, ownerConnectionId: current?.ownerConnectionId ?? "" };
      const delivered =
        current === null
          ? false
          : current.ownerNodeId === this.options.nodeId
            ? (this.owned
                .connection(current.ownerConnectionId)
                ?.send(encodePeerFound(message.clientIp, message.clientUdpPort)) ?? false)
            : await this.sendToNode(current.ownerNodeId, forward);
      this.metrics.busMessages.inc({
        direction: "forwarded",
        type: message.type,
        result: delivered ? "ok" : "dropped",
      });
    }
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
    await this.register(connection, version, this.capLobbyData(data));
  }

  /** Lobby data beyond the cap is cut (at a character boundary) rather than refused: the game stays joinable. */
  private capLobbyData(data: readonly string[]): string[] {
    const maxBytes = this.options.lobbyDataMaxBytes;
    let cut = false;
    const capped = data.map((value) => {
      if (Buffer.byteLength(value) <= maxBytes) return value;
      cut = true;
      const bytes = Buffer.from(value).subarray(0, maxBytes);
      // Drop a trailing partial UTF-8 character.
      return bytes.toString("utf8").replace(/\uFFFD+$/, "");
    });
    if (cut) {
      this.badInput.report("lobby_data_truncated", "reg2 lobby data cut to the configured length", {
        maxBytes,
      });
    }
    return capped;
  }

  private async register(
    connection: GameConnection,
    version: string,
    data: readonly string[],
  ): Promise<void> {
    const ip = connection.remoteIp;
    if (!this.serverSlots.has(connection.id)) {
      if (!this.admission.admitServer(ip)) {
        this.badInput.report(
          "too_many_servers",
          "closing a registration: too many servers from one source",
          {
            server: this.formatIp(ip),
          },
        );
        connection.close("too many servers from one source");
        return;
      }
      this.serverSlots.set(connection.id, ip);
    }
    connection.assignRole("server");
    connection.keepAlive();
    this.owned.hold(connection);
    let result: Awaited<ReturnType<Registry["registerServer"]>>;
    try {
      result = await this.registry.registerServer({
        ip,
        version,
        data: [...data],
        ownerNodeId: this.options.nodeId,
        ownerConnectionId: connection.id,
      });
    } catch (error) {
      // The script may have run even if its reply was lost: the release owes a delete.
      this.log.warn({ err: error }, "registration failed: store unreachable");
      await this.owned.release(connection, ip);
      // A reset, not a FIN: the game's next ping write fails at once and it redoes UDP +
      // TCP reg (after a FIN the first write still succeeds: it would relist a ping later).
      connection.reset("store unreachable");
      return;
    }
    if (connection.closed) {
      // The socket closed while the store answered: undo, unless a newer one already replaced it.
      await this.owned.release(connection, ip);
      return;
    }
    this.owned.registered(connection, result.registration);
    if (result.udpConflict) this.reportPortConflict(ip);
    this.log.info(
      {
        server: this.formatIp(ip),
        udpPort: result.registration.udpPort,
        version: version || "classic",
        replaced: result.replaced !== null,
      },
      "server registered",
    );
    const replaced = result.replaced;
    if (!replaced) return;
    if (replaced.ownerNodeId === this.options.nodeId)
      this.owned.supersede(replaced.ownerConnectionId);
    else {
      await this.sendToNode(replaced.ownerNodeId, {
        type: "superseded",
        serverIp: ip,
        ownerConnectionId: replaced.ownerConnectionId,
      });
    }
  }

  private reportPortConflict(ip: string): void {
    this.badInput.report(
      "udp_port_conflict",
      "several UDP ports claimed one server IP within the bind window (a forger, or a NAT that remapped)",
      { server: this.formatIp(ip) },
    );
  }

  private async lobby(connection: GameConnection, query: LobbyQuery): Promise<void> {
    connection.assignRole("lobby");
    if (!this.options.lobbyEnabled) {
      this.metrics.lobbyRequests.inc({ result: "disabled" });
      connection.endAfterReplies(); // the reference stays silent when its lobby is off
      return;
    }
    if (!this.admission.allowLobby(connection.remoteIp)) {
      this.badInput.report(
        "lobby_rate_limited",
        "lobby2 answered with an empty list: source over its rate",
        {
          client: this.formatIp(connection.remoteIp),
        },
      );
      this.metrics.lobbyRequests.inc({ result: "rate_limited" });
      connection.send(encodeLobby([]));
    } else {
      connection.send(await this.lobbyService.reply(query));
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
      this.log.warn({ err: error, node: nodeId }, "bus send failed");
      return false;
    }
  }
}
