// `gmnet-master probe`: plays a game server and a client against a master, from
// this machine, and reports what the master saw. The -1 the client receives
// carries the server's public endpoint as the master recorded it: if that is a
// load balancer's address, sources are not preserved and every punch fails.
import { downloadLobby, GameClient, GameServer } from "./sdk/index.js";

export interface ProbeOptions {
  masterHost: string;
  masterPort: number;
  timeoutMs: number;
  /** This machine's public IP, when the master's lobby is off (else it is read from the lobby). */
  publicIp?: string;
}

export interface ProbeReport {
  ok: boolean;
  lines: string[];
}

export async function runProbe(options: ProbeOptions): Promise<ProbeReport> {
  const lines: string[] = [];
  const server = new GameServer({
    masterHost: options.masterHost,
    masterPort: options.masterPort,
    lobby: { version: "1.2.4", data: ["gmnet-master-probe", "", "", "", "", "", "", ""] },
    punchTimeoutMs: options.timeoutMs,
  });
  const client = new GameClient({
    masterHost: options.masterHost,
    masterPort: options.masterPort,
    masterTimeoutMs: options.timeoutMs,
    punchTimeoutMs: options.timeoutMs,
  });
  try {
    await server.start();
    lines.push(`registered a probe game server (local UDP port ${server.udpPort})`);
    const peerSeen = new Promise<{ ip: string; port: number }>((resolve) =>
      server.once("peer", resolve),
    );
    // The master needs the server's public IP; seen from here that is whatever the
    // master recorded, which the client learns from its -1. Ask for our own address:
    // the master maps it to the registration it just made.
    let selfIp: string;
    try {
      selfIp = options.publicIp ?? (await publicIpSeenByMaster(options));
    } catch (error) {
      lines.push(
        `could not read the probe's registration from the lobby (${(error as Error).message}); if the lobby is off, pass --public-ip`,
      );
      return { ok: false, lines };
    }
    lines.push(`the master recorded the game server under ${selfIp}`);
    const result = await client.connect(selfIp);
    switch (result.outcome) {
      case "not-found":
        lines.push(
          `connect to ${selfIp}: -2 (the master has no registration for the address it saw)`,
        );
        return { ok: false, lines };
      case "master-timeout":
        lines.push(`connect: no answer from the master within ${options.timeoutMs} ms`);
        return { ok: false, lines };
      default: {
        const peer = await Promise.race([peerSeen, delay(1_000).then(() => null)]);
        lines.push(
          `master answered -1: the game server's public UDP endpoint is ${result.server.ip}:${result.server.port}`,
        );
        if (peer) lines.push(`master told the game server: client at ${peer.ip}:${peer.port}`);
        lines.push(
          result.outcome === "welcomed"
            ? "punch: welcomed (knock -3 / welcome -4 exchanged)"
            : `punch: no welcome within ${options.timeoutMs} ms (from one host, a NAT without hairpinning does this)`,
        );
        lines.push(
          "check: the endpoints above must be this machine's public address, not a load balancer's",
        );
        return { ok: true, lines };
      }
    }
  } finally {
    await client.close();
    await server.close();
  }
}

/** Asks the master's lobby for the probe's own registration to learn the IP it was recorded under. */
async function publicIpSeenByMaster(options: ProbeOptions): Promise<string> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const rows = await downloadLobby({
      masterHost: options.masterHost,
      masterPort: options.masterPort,
      filters: ["gmnet-master-probe"],
      timeoutMs: options.timeoutMs,
    });
    const newest = rows[0];
    if (newest) return newest.ip;
    if (Date.now() > deadline)
      throw new Error("the probe's registration never appeared in the lobby");
    await delay(100);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
