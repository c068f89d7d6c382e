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
import { bindUdp, closeUdp, type Endpoint, sameIp } from "./wire.js";

export interface GameServerOptions {
  masterHost: string;
  masterPort: number;
  /** Local address for the game's UDP and TCP sockets (default 0.0.0.0). */
  bindHost?: string;
  /** The game's UDP port; 0 picks a free one. */
  udpPort?: number;
  /** GATE.PUNCH lobby data: registers with `reg2`; without it, classic `reg`. */
  lobby?: { version: string; data: string[] };
  /** Keepalive `ping` interval (the GML default is 3 minutes). */
  pingIntervalMs?: number;
  /** Delay before re-registering after the master closed the TCP socket. */
  reconnectDelayMs?: number;
  /** One game step: knocks and welcomes go out once per step. */
  stepMs?: number;
  /** How long to knock a new peer before giving up. */
  punchTimeoutMs?: number;
  /** How long to keep sending -4 welcomes after a peer's first knock. */
  welcomeDurationMs?: number;
  /** Send UDP with GameMaker's 12-byte header, as network_send_udp does (default true). */
  gameMakerHeader?: boolean;
}

/**
 * Registers with the master over UDP + TCP, keeps the TCP socket with pings,
 * knocks every peer the master announces (`-1`) and welcomes (`-4`) every
 * client that knocks (`-3`). Emits `registered`, `peer` (Endpoint),
 * `player` (Endpoint) and `master-closed`.
 */
export class GameServer extends EventEmitter {
  private udp: UdpSocket | null = null;
  private tcp: Socket | null = null;
  private readonly playerList = new Map<string, Endpoint>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closing = false;
  private readonly options: Required<Omit<GameServerOptions, "lobby">> &
    Pick<GameServerOptions, "lobby">;

  constructor(options: GameServerOptions) {
    super();
    this.options = {
      bindHost: "0.0.0.0",
      udpPort: 0,
      pingIntervalMs: 180_000,
      reconnectDelayMs: 1_000,
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
    await this.register();
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.tcp?.destroy();
    if (this.udp) await closeUdp(this.udp);
  }

  private async register(): Promise<void> {
    const { masterHost, masterPort } = this.options;
    this.udp?.send(encodeUdpRequest("reg", this.options.gameMakerHeader), masterPort, masterHost);
    const tcp = await new Promise<Socket>((resolve, reject) => {
      const socket = tcpConnect(
        { host: masterHost, port: masterPort, localAddress: this.localTcpAddress() },
        () => {
          socket.off("error", reject);
          resolve(socket);
        },
      );
      socket.once("error", reject);
    });
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
    tcp.on("close", () => this.onMasterClosed(tcp));
    const lobby = this.options.lobby;
    tcp.write(lobby ? encodeReg2Request(lobby.version, lobby.data) : encodeRegRequest());
    const ping = setInterval(() => {
      if (!tcp.destroyed) tcp.write(encodePingRequest());
    }, this.options.pingIntervalMs);
    ping.unref();
    tcp.once("close", () => clearInterval(ping));
    this.emit("registered");
  }

  private localTcpAddress(): string | undefined {
    const host = this.options.bindHost;
    return host === "0.0.0.0" || host === "::" ? undefined : host;
  }

  private onMasterClosed(socket: Socket): void {
    if (this.tcp !== socket || this.closing) return;
    this.tcp = null;
    this.emit("master-closed");
    this.scheduleReregistration();
  }

  /** Like the GML script after a failed ping: UDP `reg` and a new TCP registration. */
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
