// Fuzz inputs built from the real commands (with and without GameMaker's UDP
// header), mutated or random, sent to a live node as UDP datagrams and as TCP
// streams split at random points. Seeded, so a failing run can be repeated.
// Connect targets stay in 127.199.0.0/16, never a bench server's address.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect as tcpConnect } from "node:net";
import {
  encodeConnectRequest,
  encodeLobby2Request,
  encodePingRequest,
  encodeReg2Request,
  encodeRegRequest,
  gmlString,
  withGameMakerHeader,
} from "../../src/protocol/index.js";
import { ipFor } from "./ips.js";
import type { Target } from "./load.js";

/** mulberry32: small, fast, seedable. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

const INTERESTING = [0x00, 0x0a, 0x0d, 0xff, 0x7f, 0x80, 0xc0, 0xde, 0xad, 0x20, 0x30, 0x39];

function fuzzTargetIp(rng: Rng): string {
  return `127.199.${rng.int(256)}.${rng.int(256)}`;
}

function udpSeeds(rng: Rng): Buffer[] {
  const reg = gmlString("reg\n");
  const connect = gmlString("connect\n");
  const badHeader = withGameMakerHeader(connect);
  badHeader.writeUInt32LE(rng.int(2 ** 32), 8);
  return [reg, connect, withGameMakerHeader(reg), withGameMakerHeader(connect), badHeader];
}

function tcpSeeds(rng: Rng): Buffer[] {
  const data = Array.from({ length: 8 }, () => (rng.int(3) === 0 ? "x".repeat(rng.int(300)) : "g"));
  return [
    encodeRegRequest(),
    encodeReg2Request(rng.pick(["1.2.5", "0.0.1", "99", "", "1..2"]), data),
    encodeConnectRequest(fuzzTargetIp(rng)),
    encodeConnectRequest(rng.pick(["", "::1", "not-an-ip", "999.1.1.1", "127.199.1.1:80"])),
    encodeLobby2Request({
      filters: data,
      sortBy: rng.pick(["date", "data1", "data8"] as const),
      sortDirection: rng.pick(["ASC", "DESC"] as const),
      limit: rng.pick([null, 0, 1, 5, 2 ** 31]),
    }),
    Buffer.from("lobby2\r\n\r\nDESC\r\nabc\r\n"),
    encodePingRequest(),
    gmlString("version\n"),
    gmlString("istesting\n"),
    gmlString("testinginfos\n"),
  ];
}

/** One mutation of `input` (or several stacked). */
export function mutate(rng: Rng, input: Buffer): Buffer {
  let out = Buffer.from(input);
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds; r++) {
    const at = out.length === 0 ? 0 : rng.int(out.length);
    switch (rng.int(9)) {
      case 0: // bit flip
        if (out.length > 0) out[at] = (out[at] as number) ^ (1 << rng.int(8));
        break;
      case 1: // interesting byte
        if (out.length > 0) out[at] = rng.pick(INTERESTING);
        break;
      case 2: // insert random bytes
        out = Buffer.concat([out.subarray(0, at), rng.bytes(1 + rng.int(16)), out.subarray(at)]);
        break;
      case 3: // delete a range
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + rng.int(8))]);
        break;
      case 4: // duplicate a range
        out = Buffer.concat([
          out.subarray(0, at),
          out.subarray(at, at + 1 + rng.int(32)),
          out.subarray(at),
        ]);
        break;
      case 5: // truncate
        out = out.subarray(0, at);
        break;
      case 6: // a long line
        out = Buffer.concat([
          out.subarray(0, at),
          Buffer.alloc(500 + rng.int(3000), 0x41),
          out.subarray(at),
        ]);
        break;
      case 7: // drop the NULs or the LFs
        out = Buffer.from(out.filter((b) => b !== (rng.int(2) === 0 ? 0x00 : 0x0a)));
        break;
      default: // invalid UTF-8 / control bytes
        out = Buffer.concat([
          out.subarray(0, at),
          Buffer.from([0xc3, 0x28, 0xe2, 0x82, 0x01, 0x7f]),
          out.subarray(at),
        ]);
        break;
    }
  }
  return out;
}

export function udpInput(rng: Rng): Buffer {
  const roll = rng.int(10);
  if (roll === 0) return rng.bytes(rng.int(600)); // random, sometimes above the 512-byte cap
  if (roll === 1) return rng.pick(udpSeeds(rng)); // the real thing
  return mutate(rng, rng.pick(udpSeeds(rng)));
}

/** A TCP stream: several commands (real, mutated or random), to be written in random pieces. */
export function tcpStream(rng: Rng): Buffer {
  const parts: Buffer[] = [];
  const count = 1 + rng.int(4);
  for (let i = 0; i < count; i++) {
    const roll = rng.int(10);
    if (roll === 0) parts.push(rng.bytes(1 + rng.int(256)));
    else if (roll <= 3) parts.push(rng.pick(tcpSeeds(rng)));
    else parts.push(mutate(rng, rng.pick(tcpSeeds(rng))));
  }
  return Buffer.concat(parts);
}

export interface FuzzOptions {
  target: Target;
  udpInputs: number;
  tcpStreams: number;
  seed: number;
  /** Datagrams per second (the master's UDP buffer is shared with real games). */
  udpPerSec?: number;
  tcpConcurrency?: number;
  /** Hard stop, whatever is left. */
  maxSeconds?: number;
}

export interface FuzzResult {
  udpSent: number;
  tcpStreams: number;
  tcpClosedByServer: number;
  tcpReplies: number;
  seconds: number;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzResult> {
  const rng = new Rng(options.seed);
  const startedAt = Date.now();
  const deadline = startedAt + (options.maxSeconds ?? 300) * 1000;
  const result: FuzzResult = {
    udpSent: 0,
    tcpStreams: 0,
    tcpClosedByServer: 0,
    tcpReplies: 0,
    seconds: 0,
  };
  const senders: UdpSocket[] = [];
  for (let i = 0; i < 64; i++) {
    const socket = createSocket("udp4");
    socket.on("error", () => undefined);
    await new Promise<void>((resolve) =>
      socket.bind({ address: ipFor("fuzz", i), port: 0 }, resolve),
    );
    senders.push(socket);
  }
  const udpPerSec = options.udpPerSec ?? 50_000;
  const udpWork = (async () => {
    const batch = 500;
    while (result.udpSent < options.udpInputs && Date.now() < deadline) {
      const due = Math.min(
        options.udpInputs,
        Math.floor(((Date.now() - startedAt) * udpPerSec) / 1000),
      );
      if (result.udpSent >= due) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      const sends: Array<Promise<void>> = [];
      for (let i = 0; i < batch && result.udpSent < due; i++) {
        const socket = senders[result.udpSent % senders.length] as UdpSocket;
        const payload = udpInput(rng);
        result.udpSent++;
        sends.push(
          new Promise((resolve) =>
            socket.send(payload, options.target.port, options.target.host, () => resolve()),
          ),
        );
      }
      await Promise.all(sends);
    }
  })();
  const oneStream = (n: number) =>
    new Promise<void>((resolve) => {
      const stream = tcpStream(rng);
      const socket = tcpConnect({
        host: options.target.host,
        port: options.target.port,
        localAddress: ipFor("fuzz", 64 + (n % 60_000)),
      });
      let closedByUs = false;
      const timer = setTimeout(() => {
        closedByUs = true;
        socket.destroy();
      }, 5 + rng.int(40));
      socket.on("connect", () => {
        let offset = 0;
        while (offset < stream.length) {
          const size = 1 + rng.int(Math.max(1, stream.length - offset));
          socket.write(stream.subarray(offset, offset + size));
          offset += size;
        }
        if (rng.int(2) === 0) socket.end();
      });
      socket.on("data", () => {
        result.tcpReplies++;
      });
      socket.on("error", () => undefined);
      socket.on("close", () => {
        clearTimeout(timer);
        if (!closedByUs) result.tcpClosedByServer++;
        resolve();
      });
    });
  let nextStream = 0;
  const tcpWorker = async () => {
    while (nextStream < options.tcpStreams && Date.now() < deadline) {
      const n = nextStream++;
      await oneStream(n);
      result.tcpStreams++;
    }
  };
  await Promise.all([udpWork, ...Array.from({ length: options.tcpConcurrency ?? 128 }, tcpWorker)]);
  for (const socket of senders) socket.close();
  result.seconds = Math.round((Date.now() - startedAt) / 100) / 10;
  return result;
}
