// The abuse scenario's attackers (issue 9), all at once against one or more
// nodes on loopback. A spoofer looks to the master like many distinct source
// addresses: here every 127.x.y.z is local, so "spoofed" datagrams are sent
// from sockets bound to those addresses (one short-lived socket each).
// Every attack counts what it sent and every byte it got back.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect as tcpConnect, type Socket } from "node:net";
import {
  encodeConnectRequest,
  encodeLobby2Request,
  encodePingRequest,
  encodeReg2Request,
  encodeUdpRequest,
  MasterReplyParser,
} from "../../src/protocol/index.js";
import { Rng } from "../lib/fuzz.js";
import { ipFor } from "../lib/ips.js";
import type { Target } from "../lib/load.js";

/** Source ports of forged datagrams: below Linux's ephemeral range, so never a real game's. */
export const FORGED_PORT_BASE = 20_000;
export const FORGED_PORT_SPAN = 1_000;

export function isForgedPort(port: number): boolean {
  return port >= FORGED_PORT_BASE && port < FORGED_PORT_BASE + FORGED_PORT_SPAN;
}

/** Attacker source addresses (ipFor "attacker"), one block per attack. */
const SOURCES = { slowLobby: 0, connectFlood: 100, connectionCap: 200, pinger: 300, garbage: 400 };

export interface AbuseConfig {
  targets: Target[];
  seconds: number;
  seed: number;
  /** UDP reg/connect (and some garbage) from a new source address each. */
  flood: { perSec: number; garbagePercent: number };
  /** UDP reg from the real servers' IPs and connect from the real clients' IPs, forged ports. */
  forged: { perSec: number; servers: number; clients: number };
  /** Lobby servers whose data fields are all `"` (doubled by JSON escaping). */
  padded: { servers: number; tag: string; fieldBytes: number };
  /** lobby2 from sockets that never read (they read, late, only to count the bytes). */
  slowLobby: { perSec: number; sources: number; holdMs: number };
  /** connect to one real server from a few sources, UDP connect first as a client does. */
  connectFlood: { perSec: number; sources: number; victimIp: string };
  /**
   * Connections held open from one source (beyond the per-source cap), reopened
   * when closed. One counts as held (admitted) once open `heldAfterMs`: the
   * kernel completes every handshake, so a refused one is briefly open too.
   */
  connectionCap: { sockets: number; heldAfterMs: number };
  /** Sockets sending `ping` forever without registering. */
  pinger: { sockets: number; everyMs: number };
  /** New connections per second sending garbage lines. */
  garbage: { perSec: number };
}

export interface AttackCounts {
  /** Datagrams or TCP requests sent. */
  sent: number;
  /** TCP connections opened (0 for UDP attacks). */
  connections: number;
  /** Connections the node closed (or refused) before the attacker did. */
  closedByNode: number;
  bytesReceived: number;
  errors: number;
  /** Attack-specific figures. */
  detail: Record<string, number>;
}

export type AbuseReport = Record<
  | "flood"
  | "forged"
  | "padded"
  | "slowLobby"
  | "connectFlood"
  | "connectionCap"
  | "pinger"
  | "garbage",
  AttackCounts
>;

const counts = (): AttackCounts => ({
  sent: 0,
  connections: 0,
  closedByNode: 0,
  bytesReceived: 0,
  errors: 0,
  detail: {},
});

const bump = (c: AttackCounts, key: string, by = 1) => {
  c.detail[key] = (c.detail[key] ?? 0) + by;
};

const UDP_REG = encodeUdpRequest("reg", true);
const UDP_CONNECT = encodeUdpRequest("connect", true);

/** Binds a UDP socket to ip:port, sends one datagram, closes it: one spoofed datagram. */
function sendFrom(
  ip: string,
  port: number,
  payload: Buffer,
  target: Target,
  done: (error: Error | null) => void,
): void {
  const socket = createSocket("udp4");
  let finished = false;
  const finish = (error: Error | null) => {
    if (finished) return;
    finished = true;
    try {
      socket.close();
    } catch {
      // already closed
    }
    done(error);
  };
  socket.once("error", (error) => finish(error));
  socket.bind({ address: ip, port }, () => {
    socket.send(payload, target.port, target.host, (error) => finish(error ?? null));
  });
}

/** Calls `fire` at `perSec` from a 10 ms tick (never a burst: a late tick skips, counted). */
class Pacer {
  private timer: NodeJS.Timeout | null = null;
  private fired = 0;
  skipped = 0;

  constructor(
    private readonly perSec: number,
    private readonly fire: (index: number) => boolean,
  ) {}

  start(): void {
    if (this.perSec <= 0) return;
    const startedMs = Date.now();
    this.timer = setInterval(() => {
      let due = Math.floor(((Date.now() - startedMs) * this.perSec) / 1000) - this.fired;
      const maxBurst = Math.max(1, Math.ceil(this.perSec / 20)); // 50 ms worth
      if (due > maxBurst) {
        this.skipped += due - maxBurst;
        this.fired += due - maxBurst;
        due = maxBurst;
      }
      for (let i = 0; i < due; i++) {
        if (!this.fire(this.fired)) this.skipped++;
        this.fired++;
      }
    }, 10);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/** Sockets the attacker closed itself (any other close was the node's doing). */
const hungUp = new WeakSet<Socket>();

function hangUp(socket: Socket): void {
  hungUp.add(socket);
  socket.destroy();
}

/**
 * A TCP connection from `ip` that counts every byte it gets. `onClose` is told
 * whether the node closed it (or refused it) and whether it ever connected.
 */
function attackSocket(
  target: Target,
  ip: string,
  c: AttackCounts,
  onConnect: (socket: Socket) => void,
  onClose?: (byNode: boolean, connected: boolean) => void,
): Socket {
  const socket = tcpConnect({ host: target.host, port: target.port, localAddress: ip });
  let connected = false;
  c.connections++;
  socket.on("connect", () => {
    connected = true;
    onConnect(socket);
  });
  socket.on("data", (chunk: Buffer) => {
    c.bytesReceived += chunk.length;
  });
  socket.on("error", () => {
    c.errors++;
  });
  socket.once("close", () => {
    const byNode = !hungUp.has(socket);
    if (byNode) c.closedByNode++;
    onClose?.(byNode, connected);
  });
  return socket;
}

export class Abuse {
  readonly report: AbuseReport = {
    flood: counts(),
    forged: counts(),
    padded: counts(),
    slowLobby: counts(),
    connectFlood: counts(),
    connectionCap: counts(),
    pinger: counts(),
    garbage: counts(),
  };
  private readonly pacers: Pacer[] = [];
  private floodPacer: Pacer | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly rng: Rng;
  private canary: UdpSocket | null = null;
  private stopping = false;
  private floodInFlight = 0;
  private forgedInFlight = 0;

  constructor(private readonly config: AbuseConfig) {
    this.rng = new Rng(config.seed);
  }

  private target(n: number): Target {
    return this.config.targets[n % this.config.targets.length] as Target;
  }

  private track(socket: Socket): Socket {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    return socket;
  }

  private later(ms: number, task: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      task();
    }, ms);
    this.timers.add(timer);
  }

  /** Registers the padded lobby servers (before the clock starts: they are the ammunition). */
  async prepare(): Promise<void> {
    const { servers, tag, fieldBytes } = this.config.padded;
    const c = this.report.padded;
    const quotes = '"'.repeat(fieldBytes);
    await Promise.all(
      Array.from({ length: servers }, (_, i) => {
        const ip = ipFor("padded", i);
        const target = this.target(i);
        return new Promise<void>((resolve) => {
          sendFrom(ip, 0, UDP_REG, target, () => {
            const socket = this.track(
              attackSocket(target, ip, c, (s) => {
                s.write(encodeReg2Request("1.2.5", [tag, ...Array(7).fill(quotes)]));
                c.sent++;
                resolve();
              }),
            );
            socket.on("error", () => resolve());
          });
        });
      }),
    );
  }

  /** Starts every attack; they run until stop(). */
  start(): void {
    this.startFlood();
    this.startForged();
    this.startSlowLobby();
    this.startConnectFlood();
    this.startConnectionCap();
    this.startPingers();
    this.startGarbage();
  }

  async stop(): Promise<AbuseReport> {
    this.stopping = true;
    for (const pacer of this.pacers) pacer.stop();
    this.report.flood.detail.pacerSkipped = this.floodPacer?.skipped ?? 0;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    // Slow readers read what they were sent (counted), then everything closes.
    for (const socket of this.sockets) socket.resume();
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const socket of this.sockets) hangUp(socket);
    this.canary?.close();
    const deadline = Date.now() + 5_000;
    while ((this.floodInFlight > 0 || this.forgedInFlight > 0) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    return this.report;
  }

  private pace(perSec: number, fire: (index: number) => boolean): Pacer {
    const pacer = new Pacer(perSec, fire);
    this.pacers.push(pacer);
    pacer.start();
    return pacer;
  }

  private startFlood(): void {
    const { perSec, garbagePercent } = this.config.flood;
    const c = this.report.flood;
    // A canary source that also floods: any UDP reply the master sent would land here.
    const canary = createSocket("udp4");
    canary.on("message", (message) => {
      c.bytesReceived += message.length;
    });
    canary.on("error", () => undefined);
    canary.bind({ address: ipFor("flood", 0), port: 0 });
    this.canary = canary;
    const maxInFlight = 512;
    // Source addresses never repeat within a run (2.58 M of them); a random start per seed.
    const firstSource = 1 + this.rng.int(1_000_000);
    this.floodPacer = this.pace(perSec, (n) => {
      if (this.floodInFlight >= maxInFlight) return false;
      const roll = this.rng.int(100);
      const payload =
        roll < garbagePercent
          ? this.rng.bytes(1 + this.rng.int(40))
          : roll % 2 === 0
            ? UDP_CONNECT
            : UDP_REG;
      if (roll < garbagePercent) bump(c, "garbage");
      else bump(c, payload === UDP_CONNECT ? "connect" : "reg");
      this.floodInFlight++;
      sendFrom(ipFor("flood", firstSource + n), 0, payload, this.target(n), (error) => {
        this.floodInFlight--;
        if (error) c.errors++;
        else c.sent++;
      });
      if (n % 50 === 0) canary.send(UDP_CONNECT, this.target(n).port, this.target(n).host);
      return true;
    });
  }

  private startForged(): void {
    const { perSec, servers, clients } = this.config.forged;
    const c = this.report.forged;
    this.pace(perSec, (n) => {
      if (this.forgedInFlight >= 256) return false;
      // Alternately a game server's IP (reg) and a client's IP (connect), forged ports.
      const asServer = n % 2 === 0 && servers > 0;
      const ip = asServer
        ? ipFor("server", this.rng.int(servers))
        : ipFor("client", this.rng.int(clients));
      const port = FORGED_PORT_BASE + this.rng.int(FORGED_PORT_SPAN);
      this.forgedInFlight++;
      sendFrom(ip, port, asServer ? UDP_REG : UDP_CONNECT, this.target(n), (error) => {
        this.forgedInFlight--;
        if (error) c.errors++;
        else {
          c.sent++;
          bump(c, asServer ? "reg" : "connect");
        }
      });
      return true;
    });
  }

  private startSlowLobby(): void {
    const { perSec, sources, holdMs } = this.config.slowLobby;
    const c = this.report.slowLobby;
    this.pace(perSec, (n) => {
      const ip = ipFor("attacker", SOURCES.slowLobby + (n % sources));
      const filters = n % 2 === 0 ? [this.config.padded.tag] : []; // the padded ones, or all
      const socket = this.track(
        attackSocket(this.target(n), ip, c, (s) => {
          s.pause(); // never reads: replies stay in the kernel's buffers (and the node's)
          s.write(encodeLobby2Request({ filters }));
          c.sent++;
        }),
      );
      // Reads, late, only to count what it was sent.
      this.later(holdMs, () => {
        socket.resume();
        this.later(200, () => hangUp(socket));
      });
      return true;
    });
  }

  private startConnectFlood(): void {
    const { perSec, sources, victimIp } = this.config.connectFlood;
    const c = this.report.connectFlood;
    this.pace(perSec, (n) => {
      const ip = ipFor("attacker", SOURCES.connectFlood + (n % sources));
      const target = this.target(n);
      // As a game client: UDP connect from a fresh port, then TCP connect.
      sendFrom(ip, 0, UDP_CONNECT, target, () => {
        if (this.stopping) return;
        const parser = new MasterReplyParser();
        const socket = this.track(
          attackSocket(target, ip, c, (s) => {
            s.write(encodeConnectRequest(victimIp));
            c.sent++;
          }),
        );
        socket.on("data", (chunk: Buffer) => {
          for (const reply of parser.push(chunk)) {
            bump(
              c,
              reply.kind === "peer" ? "peer" : reply.kind === "not-found" ? "notFound" : "other",
            );
            hangUp(socket);
          }
        });
      });
      return true;
    });
  }

  private startConnectionCap(): void {
    const { sockets } = this.config.connectionCap;
    const c = this.report.connectionCap;
    const ip = ipFor("attacker", SOURCES.connectionCap);
    let held = 0;
    const openOne = () => {
      if (this.stopping) return;
      let counted = false;
      let closed = false;
      this.track(
        attackSocket(
          this.target(0), // one node: the per-source cap is per node
          ip,
          c,
          () =>
            this.later(this.config.connectionCap.heldAfterMs, () => {
              if (closed) return;
              counted = true;
              held++;
              c.detail.maxHeld = Math.max(c.detail.maxHeld ?? 0, held);
            }),
          (byNode) => {
            closed = true;
            if (counted) held--;
            if (!byNode) return;
            bump(c, counted ? "closedLater" : "refusedAtOnce");
            // Keeps the pressure on: a refused one retries after a moment.
            this.later(counted ? 0 : 500, openOne);
          },
        ),
      );
    };
    for (let i = 0; i < sockets; i++) this.later(Math.floor(i / 50) * 20, openOne);
  }

  private startPingers(): void {
    const { sockets, everyMs } = this.config.pinger;
    const c = this.report.pinger;
    const ping = encodePingRequest();
    const openOne = (i: number) => {
      if (this.stopping) return;
      const openedAt = Date.now();
      let timer: NodeJS.Timeout | null = null;
      this.track(
        attackSocket(
          this.target(i),
          ipFor("attacker", SOURCES.pinger + (i % 4)),
          c,
          (s) => {
            const send = () => {
              s.write(ping);
              c.sent++;
            };
            send();
            timer = setInterval(send, everyMs);
          },
          (byNode) => {
            if (timer) clearInterval(timer);
            if (!byNode) return;
            const livedMs = Date.now() - openedAt;
            c.detail.minLifeMs = Math.min(c.detail.minLifeMs ?? livedMs, livedMs);
            c.detail.maxLifeMs = Math.max(c.detail.maxLifeMs ?? 0, livedMs);
            this.later(0, () => openOne(i));
          },
        ),
      );
    };
    for (let i = 0; i < sockets; i++) this.later(i * 5, () => openOne(i));
  }

  private startGarbage(): void {
    const c = this.report.garbage;
    const lines = [
      Buffer.from("hello\n\0"),
      Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
      Buffer.from(`${"A".repeat(3000)}\n`),
      Buffer.from("connect\n\n\0"),
      Buffer.from("\n\n\n\0\0\0"),
    ];
    this.pace(this.config.garbage.perSec, (n) => {
      const socket = this.track(
        attackSocket(this.target(n), ipFor("attacker", SOURCES.garbage + (n % 4)), c, (s) => {
          s.write(n % 6 === 5 ? this.rng.bytes(200) : (lines[n % lines.length] as Buffer));
          c.sent++;
        }),
      );
      // Bytes that are not a command keep nothing open: if the node has not closed it, we do.
      this.later(15_000, () => hangUp(socket));
      return true;
    });
  }
}
