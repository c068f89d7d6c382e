// Small socket helpers shared by the SDK's GameServer, GameClient and lobby download.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { isIPv6 } from "node:net";

export interface Endpoint {
  ip: string;
  port: number;
}

/**
 * Picks the master node for each new flow (a UDP datagram, a TCP connection):
 * stands in for a layer-4 balancer that keeps source addresses, for tests and
 * benchmarks. A game has one fixed master address; this is not it.
 */
export type MasterRoute = (flow: "udp" | "tcp") => Endpoint;

export function bindUdp(host: string, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(host) ? "udp6" : "udp4");
    socket.once("error", reject);
    socket.bind({ address: host, port }, () => {
      socket.off("error", reject);
      resolve(socket);
    });
  });
}

export function closeUdp(socket: UdpSocket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

export function sameIp(a: string, b: string): boolean {
  const strip = (ip: string) => (ip.startsWith("::ffff:") ? ip.slice(7) : ip);
  return strip(a) === strip(b);
}
