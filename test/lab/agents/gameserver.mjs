// Game server agent: runs the SDK's GameServer inside a LAN namespace.
// usage: node gameserver.mjs '<json GameServer options>'
// It keeps the SDK's default keepalive, the GML's: a `ping` every
// pingIntervalMs, and a new registration (UDP reg + TCP reg2 on a new socket)
// only when a ping write fails. The lab shortens the interval (3 min in GML).
// stdout JSON lines (each with t = ms since the epoch, to time failovers):
//   {ev:"started",udpPort,reregister,pingIntervalMs} {ev:"registered"}
//   {ev:"ping"} (a ping write succeeded) {ev:"ping-failed"} (it registers again)
//   {ev:"peer",ip,port} {ev:"player",ip,port} {ev:"master-closed"} {ev:"error"}
// stdin commands: {id,op:"players"} -> {players}; {id,op:"close"} -> {} (then exits)
import { loadSdk, onCommands, out } from "./sdk.mjs";

const opts = JSON.parse(process.argv[2] ?? "{}");
const { GameServer } = await loadSdk();
const gs = new GameServer(opts);
gs.on("registered", () => out({ ev: "registered" }));
gs.on("ping", () => out({ ev: "ping" }));
gs.on("ping-failed", () => out({ ev: "ping-failed" }));
gs.on("peer", (p) => out({ ev: "peer", ip: p?.ip, port: p?.port }));
gs.on("player", (p) => out({ ev: "player", ip: p?.ip, port: p?.port }));
gs.on("master-closed", () => out({ ev: "master-closed" }));
gs.on("error", (e) => out({ ev: "error", error: String(e?.stack ?? e) }));

onCommands(async (c) => {
  switch (c.op) {
    case "players":
      return { players: gs.players() };
    case "close":
      await gs.close();
      setTimeout(() => process.exit(0), 10);
      return {};
    default:
      throw new Error(`unknown op ${c.op}`);
  }
});
process.on("SIGTERM", () => {
  Promise.resolve(gs.close()).finally(() => process.exit(0));
});

const t0 = Date.now();
try {
  await gs.start();
  out({
    ev: "started",
    udpPort: gs.udpPort,
    ms: Date.now() - t0,
    // the SDK's default when not given: what the GML does
    reregister: opts.reregister ?? "on-ping-failure",
    pingIntervalMs: opts.pingIntervalMs ?? 180_000,
  });
} catch (e) {
  out({ ev: "start-failed", error: String(e?.stack ?? e) });
  process.exit(1);
}
