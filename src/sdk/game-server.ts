// A game server that behaves on the wire like the GMnet PUNCH GML scripts
// (udphp_createServer / udphp_serverPunch / udphp_serverNetworking).
import type { Socket as UdpSocket } from "node:dgram";
import { EventEmitter } from "node:events";
import { connect as tcpConnect, type Socket } from "node:net";
import {
  encodePeerPacket,
  encodePingRequest,
  encodeReg2Request,
  encodeRegRequest,
  encodeUdpRequest,
  MasterReplyParser,
  PeerPacket,
  stripGameMakerHeader,
} from "../protocol/index.js";
import { bindUdp, closeUdp, type Endpoint, type MasterRoute, sameIp } from "./wire.js";

/**
 * When the game server registers again. `on-ping-failure` is what the GML does
 * (udphp_serverPunch): every ping interval it writes `ping`, and only when that
 * write fails does it redo UDP `reg` + TCP `reg2` on a new socket. A socket the
 * master closed with FIN is noticed at the second ping after it (the first
 * write still succeeds and draws the RST), one reset with RST at the next ping.
 * `on-close` re-registers as soon as the socket closes: a shortcut no real
 * game takes, kept as an explicit choice for tools.
 */
export type ReregisterMode = "on-ping-failure" | "on-close";

export interface GameServerOptions {
  masterHost: string;
  masterPort: number;
  /** Local address for the game's UDP and TCP sockets (default 0.0.0.0). */
  bindHost?: string;
  /** The game's UDP port; 0 picks a free one. */
  udpPort?: number;
  /** GATE.PUNCH lobby data: registers with `reg2`; without it, classic `reg`. */
  lobby?: { version: string; data: string[] };
  /** Keepalive `ping` interval (GML `udphp_rctintv`: 3 minutes by default). */
  pingIntervalMs?: number;
  /** When to register again (default `on-ping-failure`, as the GML does). */
  reregister?: ReregisterMode;
  /** With `on-close`: the delay before registering again. */
  reconnectDelayMs?: number;
  /** How long a TCP connect to the master may take (GML: network_config_connect_timeout 4 s). */
  connectTimeoutMs?: number;
  /** One game step: knocks and welcomes go out once per step. */
  stepMs?: number;
  /** How long to knock a new peer before giving up. */
  punchTimeoutMs?: number;
  /** How long to keep sending -4 welcomes after a peer's first knock. */
  welcomeDurationMs?: number;
  /** Send UDP with GameMaker's 12-byte header, as network_send_udp does (default true). */
  gameMakerHeader?: boolean;
  /** A balancer stand-in choosing the node per flow (tests, bench); default masterHost:masterPort. */
  route?: MasterRoute;
}

/**
 * Registers with the master over UDP + TCP, keeps the TCP socket with pings,
 * knocks every peer the master announces (`-1`) and welcomes (`-4`) every
 * client that knocks (`-3`). Emits `registered`, `peer` (Endpoint),
 * `player` (Endpoint), `master-closed` (the socket closed; a GML game only
 * notices at a failing ping), `ping` and `ping-failed` (it registers again).
 */
export class GameServer extends EventEmitter {
  private udp: UdpSocket | null = null;
  private tcp: Socket | null = null;
  private readonly playerList = new Map<string, Endpoint>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private pingTimer: NodeJS.Timeout | null = null;
  private registering = false;
  private closing = false;
  private options: Required<Omit<GameServerOptions, "lobby" | "route">> &
    Pick<GameServerOptions, "lobby" | "route">;

  constructor(options: GameServerOptions) {
    super();
    this.options = {
      bindHost: "0.0.0.0",
      udpPort: 0,
      pingIntervalMs: 180_000,
      reregister: "on-ping-failure",
      reconnectDelayMs: 1_000,
      connectTimeoutMs: 4_000,
      stepMs: 33,
      punchTimeoutMs: 15_000,
      welcomeDurationMs: 3_000,
      gameMakerHeader: true,
      ...options,
    };
  }

  /** The game's bound UDP port. */
  get udpPort(): number {
    return this.udp?.address().port ?? 0;
  }

  /** Clients that knocked and were welcomed. */
  players(): Endpoint[] {
    return [...this.playerList.values()];
  }

  /** Binds UDP and registers (UDP `reg`, then TCP `reg`/`reg2`); resolves once sent. */
  async start(): Promise<void> {
    const udp = await bindUdp(this.options.bindHost, this.options.udpPort);
    if (this.closing) {
      await closeUdp(udp); // closed while binding: nothing may outlive close()
      return;
    }
    this.udp = udp;
    this.udp.on("message", (datagram, remote) =>
      this.onDatagram(datagram, { ip: remote.address, port: remote.port }),
    );
    this.udp.on("error", () => undefined);
    // The GML's first keepalive tick finds no socket and registers; then it ticks every interval.
    this.restartKeepalive();
    await this.register();
  }

  /**
   * Publishes new lobby data: the GML (udphp_serverCommitData) resets its
   * keepalive counter and registers again at once, so the next ping comes one
   * full interval later.
   */
  async commitData(data: string[]): Promise<void> {
    if (!this.options.lobby) throw new Error("a classic `reg` server has no lobby data");
    this.options.lobby = { ...this.options.lobby, data: [...data] };
    this.restartKeepalive();
    await this.register();
  }

  private restartKeepalive(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.keepaliveTick(), this.options.pingIntervalMs);
    this.pingTimer.unref();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.tcp?.destroy();
    if (this.udp) await closeUdp(this.udp);
  }

  /**
   * One keepalive tick, as udphp_serverPunch does it: `ping` on the kept socket;
   * a write that fails (the socket saw an RST, or there is none) registers again.
   */
  private keepaliveTick(): void {
    if (this.closing || this.registering) return;
    const tcp = this.tcp;
    if (tcp && !tcp.destroyed) {
      // After a FIN this write still succeeds (half-open) and draws the peer's RST;
      // the next one fails, like network_send_raw returning < 0.
      tcp.write(encodePingRequest(), (error) => {
        if (error) this.pingFailed();
        else this.emit("ping");
      });
      return;
    }
    this.pingFailed();
  }

  private pingFailed(): void {
    if (this.closing || this.registering || this.options.reregister !== "on-ping-failure") return;
    this.emit("ping-failed");
    void this.register().catch(() => undefined); // a failed connect waits for the next tick
  }

  /** UDP `reg`, then a new TCP connection with `reg`/`reg2` (the old socket is dropped). */
  private async register(): Promise<void> {
    this.registering = true;
    try {
      this.tcp?.destroy();
      this.tcp = null;
      const udpTarget = this.master("udp");
      this.udp?.send(
        encodeUdpRequest("reg", this.options.gameMakerHeader),
        udpTarget.port,
        udpTarget.ip,
      );
      const tcp = await this.connectToMaster();
      if (this.closing) {
        tcp.destroy(); // closed while connecting: do not register a socket nobody owns
        return;
      }
      tcp.setNoDelay(true);
      this.tcp = tcp;
      const parser = new MasterReplyParser();
      tcp.on("data", (chunk: Buffer) => {
        for (const reply of parser.push(chunk)) {
          if (reply.kind === "peer") this.onPeer({ ip: reply.ip, port: reply.port });
        }
      });
      tcp.on("error", () => undefined);
      // The master's FIN ('end', the socket stays half-open) or an RST ('close').
      tcp.once("end", () => this.onMasterClosed(tcp));
      tcp.once("close", () => this.onMasterClosed(tcp));
      const lobby = this.options.lobby;
      tcp.write(lobby ? encodeReg2Request(lobby.version, lobby.data) : encodeRegRequest());
      this.emit("registered");
    } finally {
      this.registering = false;
    }
  }

  private master(flow: "udp" | "tcp"): Endpoint {
    return (
      this.options.route?.(flow) ?? { ip: this.options.masterHost, port: this.options.masterPort }
    );
  }

  private connectToMaster(): Promise<Socket> {
    const { connectTimeoutMs } = this.options;
    const target = this.master("tcp");
    return new Promise<Socket>((resolve, reject) => {
      // Half-open allowed: after the master's FIN our writes still go out, as the game's do.
      const socket = tcpConnect({
        host: target.ip,
        port: target.port,
        localAddress: this.localTcpAddress(),
        allowHalfOpen: true,
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error("connect to the master timed out"));
      }, connectTimeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.off("error", reject);
        resolve(socket);
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  private localTcpAddress(): string | undefined {
    const host = this.options.bindHost;
    return host === "0.0.0.0" || host === "::" ? undefined : host;
  }

  private readonly closedSockets = new WeakSet<Socket>();

  private onMasterClosed(socket: Socket): void {
    if (this.tcp !== socket || this.closing || this.closedSockets.has(socket)) return;
    this.closedSockets.add(socket);
    this.emit("master-closed");
    if (this.options.reregister === "on-close") {
      this.tcp = null;
      socket.destroy();
      this.scheduleReregistration();
    }
  }

  /** With `on-close`: registers again after a delay, retrying until it takes. */
  private scheduleReregistration(): void {
    this.later(this.options.reconnectDelayMs, () => {
      if (this.closing) return;
      this.register().catch(() => this.scheduleReregistration());
    });
  }

  private onPeer(peer: Endpoint): void {
    this.emit("peer", peer);
    const deadline = Date.now() + this.options.punchTimeoutMs;
    const knock = () => {
      if (this.closing || this.isPlayer(peer.ip, peer.port) || Date.now() > deadline) return;
      this.sendPeer(PeerPacket.knock, peer);
      this.later(this.options.stepMs, knock);
    };
    knock();
  }

  private onDatagram(datagram: Buffer, from: Endpoint): void {
    if (sameIp(from.ip, this.options.masterHost) && from.port === this.options.masterPort) return;
    const payload = stripGameMakerHeader(datagram);
    if (payload.length < 1 || payload.readInt8(0) !== PeerPacket.knock) return;
    const key = `${from.ip}:${from.port}`;
    if (this.playerList.has(key)) return;
    this.playerList.set(key, from);
    this.emit("player", from);
    const until = Date.now() + this.options.welcomeDurationMs;
    const welcome = () => {
      if (this.closing || Date.now() > until) return;
      this.sendPeer(PeerPacket.welcome, from);
      this.later(this.options.stepMs, welcome);
    };
    welcome();
  }

  private isPlayer(ip: string, port: number): boolean {
    return this.playerList.has(`${ip}:${port}`);
  }

  private sendPeer(id: number, to: Endpoint): void {
    this.udp?.send(encodePeerPacket(id, this.options.gameMakerHeader), to.port, to.ip);
  }

  private later(ms: number, task: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      task();
    }, ms);
    this.timers.add(timer);
  }
}
