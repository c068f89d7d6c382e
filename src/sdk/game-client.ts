// A game client that behaves on the wire like the GMnet PUNCH GML scripts
// (udphp_createClient / udphp_clientPunch / udphp_clientNetworking).
import type { Socket as UdpSocket } from "node:dgram";
import { connect as tcpConnect, type Socket } from "node:net";
import {
  encodeConnectRequest,
  encodePeerPacket,
  encodeUdpRequest,
  MasterReplyParser,
  PeerPacket,
  stripGameMakerHeader,
} from "../protocol/index.js";
import { bindUdp, closeUdp, type Endpoint, sameIp } from "./wire.js";

export interface GameClientOptions {
  masterHost: string;
  masterPort: number;
  bindHost?: string;
  /** The game's UDP port; 0 picks a free one. */
  udpPort?: number;
  /** How long to wait for the master's -1/-2 (the GML client waits forever; we do not). */
  masterTimeoutMs?: number;
  /** How long to knock the server before giving up (the GML default is 15 s). */
  punchTimeoutMs?: number;
  /** One game step: a knock goes out once per step. */
  stepMs?: number;
  /** Send UDP with GameMaker's 12-byte header, as network_send_udp does (default true). */
  gameMakerHeader?: boolean;
}

export type ConnectResult =
  | { outcome: "welcomed"; server: Endpoint }
  | { outcome: "not-found" }
  | { outcome: "punch-timeout"; server: Endpoint }
  | { outcome: "master-timeout" };

/** Asks the master for a server's endpoint, then knocks (-3) until welcomed (-4). */
export class GameClient {
  private udp: UdpSocket | null = null;
  private readonly options: Required<GameClientOptions>;
  private readonly cleanups = new Set<() => void>();

  constructor(options: GameClientOptions) {
    this.options = {
      bindHost: "0.0.0.0",
      udpPort: 0,
      masterTimeoutMs: 10_000,
      punchTimeoutMs: 15_000,
      stepMs: 33,
      gameMakerHeader: true,
      ...options,
    };
  }

  /** The game's bound UDP port (0 before the first connect). */
  get udpPort(): number {
    return this.udp?.address().port ?? 0;
  }

  async connect(serverIp: string): Promise<ConnectResult> {
    const udp = this.udp ?? (await bindUdp(this.options.bindHost, this.options.udpPort));
    this.udp = udp;
    const { masterHost, masterPort } = this.options;
    udp.send(encodeUdpRequest("connect", this.options.gameMakerHeader), masterPort, masterHost);
    const tcp = await new Promise<Socket>((resolve, reject) => {
      const local = this.options.bindHost;
      const socket = tcpConnect(
        {
          host: masterHost,
          port: masterPort,
          localAddress: local === "0.0.0.0" || local === "::" ? undefined : local,
        },
        () => {
          socket.off("error", reject);
          resolve(socket);
        },
      );
      socket.once("error", reject);
    });
    tcp.setNoDelay(true);
    tcp.on("error", () => undefined);
    try {
      tcp.write(encodeConnectRequest(serverIp));
      const reply = await this.awaitMasterReply(tcp);
      if (reply === null) return { outcome: "master-timeout" };
      if (reply === "not-found") return { outcome: "not-found" };
      const welcomedBy = await this.punch(udp, reply);
      return welcomedBy
        ? { outcome: "welcomed", server: welcomedBy }
        : { outcome: "punch-timeout", server: reply };
    } finally {
      tcp.destroy(); // the GML client drops its master socket once welcomed
    }
  }

  async close(): Promise<void> {
    for (const cleanup of this.cleanups) cleanup();
    this.cleanups.clear();
    if (this.udp) await closeUdp(this.udp);
    this.udp = null;
  }

  private awaitMasterReply(tcp: Socket): Promise<Endpoint | "not-found" | null> {
    return new Promise((resolve) => {
      const parser = new MasterReplyParser();
      const finish = (result: Endpoint | "not-found" | null) => {
        clearTimeout(timer);
        tcp.off("data", onData);
        tcp.off("close", onClose);
        this.cleanups.delete(cancel);
        resolve(result);
      };
      const cancel = () => finish(null);
      const onData = (chunk: Buffer) => {
        for (const reply of parser.push(chunk)) {
          if (reply.kind === "peer") return finish({ ip: reply.ip, port: reply.port });
          if (reply.kind === "not-found") return finish("not-found");
        }
      };
      const onClose = () => finish(null);
      const timer = setTimeout(cancel, this.options.masterTimeoutMs);
      this.cleanups.add(cancel);
      tcp.on("data", onData);
      tcp.on("close", onClose);
    });
  }

  /** Knocks once per step until a -4 arrives from the server's IP, or the punch times out. */
  private punch(udp: UdpSocket, server: Endpoint): Promise<Endpoint | null> {
    return new Promise((resolve) => {
      const knock = encodePeerPacket(PeerPacket.knock, this.options.gameMakerHeader);
      const finish = (result: Endpoint | null) => {
        clearInterval(knocker);
        clearTimeout(timer);
        udp.off("message", onMessage);
        this.cleanups.delete(cancel);
        resolve(result);
      };
      const cancel = () => finish(null);
      const onMessage = (datagram: Buffer, remote: { address: string; port: number }) => {
        if (!sameIp(remote.address, server.ip)) return;
        const payload = stripGameMakerHeader(datagram);
        if (payload.length >= 1 && payload.readInt8(0) === PeerPacket.welcome) {
          finish({ ip: server.ip, port: remote.port });
        }
      };
      const send = () => udp.send(knock, server.port, server.ip);
      const knocker = setInterval(send, this.options.stepMs);
      const timer = setTimeout(cancel, this.options.punchTimeoutMs);
      this.cleanups.add(cancel);
      udp.on("message", onMessage);
      send();
    });
  }
}
