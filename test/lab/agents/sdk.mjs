// Shared bits for the SDK agents: loads the SDK, JSON-line output, stdin commands.
import { pathToFileURL } from "node:url";

export const out = (o) => process.stdout.write(`${JSON.stringify({ t: Date.now(), ...o })}\n`);

export async function loadSdk() {
  const p =
    process.env.GMNET_SDK ?? new URL("../../../dist/sdk/index.js", import.meta.url).pathname;
  return import(pathToFileURL(p).href);
}

/** handler(cmd) -> reply object (awaited); replies {id, ...} or {id, error} */
export function onCommands(handler) {
  let buf = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (d) => {
    buf += d;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (!line) continue;
      let c;
      try {
        c = JSON.parse(line);
      } catch {
        out({ error: `bad json ${line}` });
        continue;
      }
      Promise.resolve()
        .then(() => handler(c))
        .then(
          (r) => out({ id: c.id, ...r }),
          (e) => out({ id: c.id, error: String(e?.stack ?? e) }),
        );
    }
  });
}

process.on("unhandledRejection", (e) =>
  out({ ev: "unhandled-rejection", error: String(e?.stack ?? e) }),
);
process.on("uncaughtException", (e) => {
  out({ ev: "uncaught-exception", error: String(e?.stack ?? e) });
  process.exit(70);
});
