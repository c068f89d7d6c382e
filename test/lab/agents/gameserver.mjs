// Game server agent: runs the SDK's GameServer inside a LAN namespace.
// usage: node gameserver.mjs '<json GameServer options>'
// stdout JSON lines: {ev:"started",udpPort} {ev:"registered"} {ev:"peer",ip,port}
//   {ev:"player",ip,port} {ev:"master-closed"} {ev:"error"}
// stdin commands: {id,op:"players"} -> {players}; {id,op:"close"} -> {} (then exits)
import { loadSdk, onCommands, out } from "./sdk.mjs";

const opts = JSON.parse(process.argv[2] ?? "{}");
const { GameServer } = await loadSdk();
const gs = new GameServer(opts);
gs.on("registered", () => out({ ev: "registered" }));
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
  out({ ev: "started", udpPort: gs.udpPort, ms: Date.now() - t0 });
} catch (e) {
  out({ ev: "start-failed", error: String(e?.stack ?? e) });
  process.exit(1);
}
