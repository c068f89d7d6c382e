// The bare-Node floor: the smallest correct master for the protocol subset the
// load generator speaks (UDP reg/connect, TCP reg/reg2/ping/connect), with
// nothing else: no logs, metrics, pacing, limits, timeouts, HTTP or lobby.
// It exists to be measured beside the real node, never to be deployed: a
// client that never closes, or an endless line, costs it memory forever.
// Run: node floor-master.js --host 127.0.0.1 --port 6510 (prints one
// "floor listening host:port" line when both sockets are bound).
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server, type Socket } from "node:net";
import { pathToFileURL } from "node:url";

/** How long a TCP connect waits for the client's UDP connect (the real node's default). */
const CLIENT_UDP_WAIT_MS = 2_000;
/** Unclaimed UDP endpoints kept per client IP: a client that never sends TCP cannot grow it. */
const MAX_ENDPOINTS_PER_IP = 64;
/** The same kernel buffer the real node asks for, so datagram drops do not differ. */
const UDP_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
/** Argument lines after each command line (reg2: version + 8 data; lobby2: 8 filters + 3). */
const ARGUMENTS: Readonly<Record<string, number>> = {
  reg: 0,
  reg2: 9,
  ping: 0,
  connect: 1,
  lobby2: 11,
};
const NOT_FOUND = Buffer.from([0xfe]);
/** lobby2 gets an empty list (`F9 [] LF`) and the socket is ended: the floor keeps no lobby. */
const EMPTY_LOBBY = Buffer.from("\xf9[]\n", "latin1");
const GAMEMAKER_MAGIC = [0xde, 0xc0, 0xad, 0xde] as const;
const GAMEMAKER_HEADER_BYTES = 12;

interface Registration {
  socket: Socket;
  /** 0 until the server's UDP reg has been seen. */
  udpPort: number;
}

interface Waiter {
  socket: Socket;
  serverIp: string;
  timer: NodeJS.Timeout;
}

export interface FloorMaster {
  host: string;
  port: number;
  /** TCP connects waiting for their UDP connect right now (read on demand, for tests). */
  waitingConnects(): number;
  close(): Promise<void>;
}

/** `FF <ip> 00 <port> 00`, built as one buffer so it goes out in one write. */
function peerReply(ip: string, port: number): Buffer {
  return Buffer.from(`\xff${ip}\0${port}\0`, "latin1");
}

/** Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d; key everything by the plain form. */
function plainIp(address: string | undefined): string {
  const ip = address ?? "";
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

/** The first line of a datagram after the optional GameMaker header: "reg", "connect" or other. */
function udpCommand(datagram: Buffer): string {
  let start = 0;
  if (
    datagram.length >= GAMEMAKER_HEADER_BYTES &&
    GAMEMAKER_MAGIC.every((byte, i) => datagram[i] === byte)
  ) {
    start = GAMEMAKER_HEADER_BYTES;
  }
  let end = start;
  while (end < datagram.length) {
    const byte = datagram[end];
    if (byte === 0x0a || byte === 0x0d || byte === 0x00) break;
    end++;
  }
  return datagram.toString("latin1", start, end);
}

class Floor {
  private readonly servers = new Map<string, Registration>();
  /** A server's UDP reg that came before its TCP registration. */
  private readonly pendingServerUdp = new Map<string, number>();
  /** Unclaimed client UDP endpoints per IP, oldest first; each is used once. */
  private readonly clientUdp = new Map<string, number[]>();
  /** TCP connects waiting for their client's UDP connect, oldest first per IP. */
  private readonly waiters = new Map<string, Waiter[]>();

  onDatagram(datagram: Buffer, from: RemoteInfo): void {
    const command = udpCommand(datagram);
    const ip = plainIp(from.address);
    if (command === "reg") {
      const registered = this.servers.get(ip);
      if (registered) registered.udpPort = from.port;
      else this.pendingServerUdp.set(ip, from.port);
    } else if (command === "connect") {
      const waiting = this.waiters.get(ip)?.shift();
      if (waiting) {
        clearTimeout(waiting.timer);
        this.pair(waiting.socket, ip, waiting.serverIp, from.port);
        return;
      }
      let ports = this.clientUdp.get(ip);
      if (!ports) {
        ports = [];
        this.clientUdp.set(ip, ports);
      }
      ports.push(from.port);
      if (ports.length > MAX_ENDPOINTS_PER_IP) ports.shift();
    }
  }

  onConnection(socket: Socket): void {
    socket.setNoDelay(true);
    const ip = plainIp(socket.remoteAddress);
    // Lines end at LF, CR or CRLF and NULs vanish (as in the real decoder): the
    // games' "text\n\0" is one line, and "\n\0" alone an empty argument line.
    // latin1 keeps one char per byte, so a chunk boundary never splits a char.
    let carry = "";
    const lines: string[] = [];
    socket.on("data", (chunk: Buffer) => {
      let text = carry + chunk.toString("latin1");
      if (text.includes("\0")) text = text.replaceAll("\0", "");
      const parts = text.split(/\r\n|\r|\n/);
      carry = parts.pop() ?? "";
      // A CR at the very end may be half of a CRLF split across chunks.
      if (carry === "" && text.endsWith("\r")) carry = "\r";
      for (const line of parts) {
        if (lines.length === 0 && line === "") continue; // blank line between commands
        lines.push(line);
        const name = lines[0] as string;
        const argumentCount = ARGUMENTS[name];
        if (argumentCount === undefined) {
          socket.destroy(); // not a command of this subset
          return;
        }
        if (lines.length <= argumentCount) continue;
        const args = lines.splice(0);
        this.onCommand(socket, ip, name, args[1] ?? "");
      }
    });
    socket.on("error", () => undefined); // resets are normal; "close" follows
    socket.on("close", () => this.onClose(socket, ip));
  }

  private onCommand(socket: Socket, ip: string, name: string, firstArgument: string): void {
    if (name === "reg" || name === "reg2") {
      const previous = this.servers.get(ip);
      if (previous && previous.socket !== socket) previous.socket.destroy();
      const udpPort = this.pendingServerUdp.get(ip) ?? previous?.udpPort ?? 0;
      this.pendingServerUdp.delete(ip);
      this.servers.set(ip, { socket, udpPort });
    } else if (name === "connect") {
      this.connect(socket, ip, firstArgument.trim());
    } else if (name === "lobby2") {
      socket.end(EMPTY_LOBBY);
    }
    // ping: nothing to do, the kept socket is what matters.
  }

  private connect(socket: Socket, clientIp: string, serverIp: string): void {
    const server = this.servers.get(serverIp);
    if (!server || server.udpPort === 0) {
      socket.write(NOT_FOUND);
      return;
    }
    const clientPort = this.clientUdp.get(clientIp)?.shift();
    if (clientPort !== undefined) {
      this.pair(socket, clientIp, serverIp, clientPort);
      return;
    }
    // The UDP connect has not arrived yet: wait for it (onDatagram wakes us), bounded.
    const waiter: Waiter = {
      socket,
      serverIp,
      timer: setTimeout(() => {
        this.dropWaiter(clientIp, waiter);
        if (!socket.destroyed) socket.write(NOT_FOUND);
      }, CLIENT_UDP_WAIT_MS),
    };
    let queue = this.waiters.get(clientIp);
    if (!queue) {
      queue = [];
      this.waiters.set(clientIp, queue);
    }
    queue.push(waiter);
  }

  private pair(client: Socket, clientIp: string, serverIp: string, clientPort: number): void {
    if (client.destroyed) return;
    // Looked up again: the server may have gone while the client waited.
    const server = this.servers.get(serverIp);
    if (!server || server.socket.destroyed) {
      client.write(NOT_FOUND);
      return;
    }
    server.socket.write(peerReply(clientIp, clientPort));
    client.write(peerReply(serverIp, server.udpPort));
  }

  private dropWaiter(clientIp: string, waiter: Waiter): void {
    const queue = this.waiters.get(clientIp);
    if (!queue) return;
    const at = queue.indexOf(waiter);
    if (at >= 0) queue.splice(at, 1);
    if (queue.length === 0) this.waiters.delete(clientIp);
  }

  private onClose(socket: Socket, ip: string): void {
    // Only this socket's own registration: a newer one from the same IP stays.
    if (this.servers.get(ip)?.socket === socket) this.servers.delete(ip);
    // A client that hangs up while waiting must not consume a later UDP endpoint.
    const queue = this.waiters.get(ip);
    const waiter = queue?.find((w) => w.socket === socket);
    if (waiter) {
      clearTimeout(waiter.timer);
      this.dropWaiter(ip, waiter);
    }
  }

  waitingConnects(): number {
    let count = 0;
    for (const queue of this.waiters.values()) count += queue.length;
    return count;
  }

  /** Ends every socket it holds (kept servers, waiting clients); for tests. */
  destroyAll(): void {
    for (const queue of this.waiters.values())
      for (const waiter of queue) {
        clearTimeout(waiter.timer);
        waiter.socket.destroy();
      }
    this.waiters.clear();
    for (const registration of this.servers.values()) registration.socket.destroy();
    this.servers.clear();
  }
}

function listenTcp(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}

function bindUdp(socket: UdpSocket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ address: host, port }, () => {
      socket.off("error", reject);
      resolve();
    });
  });
}

/** TCP and UDP on one port (port 0: the port TCP gets, retried if UDP has it taken). */
export async function startFloorMaster(options: {
  host: string;
  port: number;
}): Promise<FloorMaster> {
  const floor = new Floor();
  for (let attempt = 0; ; attempt++) {
    const tcp = createServer((socket) => floor.onConnection(socket));
    const port = await listenTcp(tcp, options.host, options.port);
    const udp = createSocket({
      type: options.host.includes(":") ? "udp6" : "udp4",
      recvBufferSize: UDP_RECEIVE_BUFFER_BYTES,
    });
    udp.on("message", (datagram, from) => floor.onDatagram(datagram, from));
    try {
      await bindUdp(udp, options.host, port);
    } catch (error) {
      await new Promise((resolve) => tcp.close(resolve));
      if (options.port !== 0 || attempt >= 10) throw error;
      continue;
    }
    udp.on("error", () => undefined);
    return {
      host: options.host,
      port,
      waitingConnects: () => floor.waitingConnects(),
      close: async () => {
        udp.close();
        const closed = new Promise((resolve) => tcp.close(resolve));
        // Kept server sockets would hold close() open forever.
        floor.destroyAll();
        await closed;
      },
    };
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const option = (name: string, fallback: string) => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? (argv[at + 1] ?? fallback) : fallback;
  };
  const master = await startFloorMaster({
    host: option("host", "127.0.0.1"),
    port: Number(option("port", "6510")),
  });
  // A normal exit (not death by signal), so `node --cpu-prof` writes its profile.
  process.on("SIGTERM", () => process.exit(0));
  process.stdout.write(`floor listening ${master.host}:${master.port}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: Error) => {
    process.stderr.write(`floor: ${error.message}\n`);
    process.exit(1);
  });
}
