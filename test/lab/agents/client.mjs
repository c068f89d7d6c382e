// Game client agent: runs the SDK's GameClient inside a LAN namespace.
// usage: node client.mjs '<json GameClient options>'
// stdin commands:
//   {id,op:"connect",serverIp} -> {result, ms}: this agent's one client (one UDP port)
//   {id,op:"connect-new",serverIp,udpPort?} -> {result, ms, udpPort}: a new player,
//       with a GameClient (and UDP port: udpPort, or any free one) of its own, closed
//       afterwards; a server welcomes each ip:port once, so a stream of players
//       needs a new port each time (a random free one may repeat a recent one)
//   {id,op:"close"} -> {}
// stdout also gets {ev:"ready"} once the SDK is loaded.
import { loadSdk, onCommands, out } from "./sdk.mjs";

const opts = JSON.parse(process.argv[2] ?? "{}");
const { GameClient } = await loadSdk();
const gc = new GameClient(opts);
onCommands(async (c) => {
  switch (c.op) {
    case "connect": {
      const t0 = Date.now();
      const result = await gc.connect(c.serverIp);
      return { result, ms: Date.now() - t0 };
    }
    case "connect-new": {
      const fresh = new GameClient({ ...opts, udpPort: c.udpPort ?? 0 });
      const t0 = Date.now();
      try {
        const result = await fresh.connect(c.serverIp);
        return { result, ms: Date.now() - t0, udpPort: fresh.udpPort };
      } finally {
        await fresh.close();
      }
    }
    case "close":
      await gc.close();
      return {};
    default:
      throw new Error(`unknown op ${c.op}`);
  }
});
process.on("SIGTERM", () => {
  Promise.resolve(gc.close()).finally(() => process.exit(0));
});
out({ ev: "ready" });
