// Reflector ("what do you look like from here?") for the NAT lab.
// usage: node echo.mjs <name> <host> <port> [tcp|udp|both]
// UDP: answers every datagram with {"node","from","port"} to its sender.
// TCP: answers each connection once with the same JSON + "\n", then closes.
// Prints JSON lines: {"ev":"listening"}, {"ev":"udp"|"tcp","from","port"}.
import dgram from "node:dgram";
import net from "node:net";

const [name, host, portS, mode = "both"] = process.argv.slice(2);
const port = Number(portS);
const out = (o) => process.stdout.write(`${JSON.stringify({ t: Date.now(), node: name, ...o })}\n`);
let pending = 0;
const ready = () => {
  if (--pending === 0) out({ ev: "listening", host, port });
};

if (mode === "udp" || mode === "both") {
  pending++;
  const s = dgram.createSocket("udp4");
  s.on("message", (msg, r) => {
    out({ ev: "udp", from: r.address, port: r.port, data: msg.toString("utf8").slice(0, 200) });
    s.send(
      JSON.stringify({
        node: name,
        from: r.address,
        port: r.port,
        data: msg.toString("utf8").slice(0, 200),
      }),
      r.port,
      r.address,
    );
  });
  s.on("error", (e) => out({ ev: "error", error: String(e) }));
  s.bind(port, host, ready);
}
if (mode === "tcp" || mode === "both") {
  pending++;
  const srv = net.createServer((c) => {
    out({ ev: "tcp", from: c.remoteAddress, port: c.remotePort });
    c.on("error", () => {});
    c.end(`${JSON.stringify({ node: name, from: c.remoteAddress, port: c.remotePort })}\n`);
  });
  srv.on("error", (e) => out({ ev: "error", error: String(e) }));
  srv.listen(port, host, ready);
}
process.on("SIGTERM", () => process.exit(0));
