// Command-driven network peer for the NAT lab. Reads JSON-line commands on
// stdin, each with an "id"; answers {"id",...} (or {"id","error"}).
// Unsolicited events: {"ev":"udp","sock","from","port","data"}.
//   {op:"udp-bind", sock, host?, port?}            -> {port}
//   {op:"udp-send", sock, ip, port, data}          -> {}
//   {op:"udp-close", sock}                         -> {}
//   {op:"udp-ask", sock, ip, port, data, timeoutMs} -> first reply datagram from ip:port, parsed JSON
//   {op:"tcp-ask", ip, port, host?, timeoutMs}     -> {localPort, reply(parsed JSON first line)}
//   {op:"http", url, method?, token?, timeoutMs?}  -> {status, body}
//   {op:"tcp-open", conn, ip, port, host?}         -> {localPort}; then events
//       {ev:"tcp-data", conn, hex} per read and {ev:"tcp-close", conn}
//   {op:"tcp-write", conn, data}                   -> {} (data: a JSON string, "\u0000" for NUL)
//   {op:"tcp-close", conn}                         -> {}
import dgram from "node:dgram";
import net from "node:net";

const name = process.argv[2] ?? "peer";
const out = (o) =>
  process.stdout.write(`${JSON.stringify({ t: Date.now(), agent: name, ...o })}\n`);
const socks = new Map();
const conns = new Map();
const askers = new Map(); // sock -> [{ip,port,resolve}]

function bindUdp(sock, host, port) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket("udp4");
    s.once("error", reject);
    s.on("message", (msg, r) => {
      const data = msg.toString("utf8");
      out({ ev: "udp", sock, from: r.address, port: r.port, data: data.slice(0, 300) });
      const list = askers.get(sock) ?? [];
      const i = list.findIndex((a) => a.ip === r.address && a.port === r.port);
      if (i >= 0) {
        const [a] = list.splice(i, 1);
        a.resolve(data);
      }
    });
    s.bind(port ?? 0, host, () => {
      s.removeListener("error", reject);
      s.on("error", (e) => out({ ev: "error", sock, error: String(e) }));
      socks.set(sock, s);
      resolve(s.address().port);
    });
  });
}

const withTimeout = (p, ms, what) =>
  Promise.race([
    p,
    new Promise((_, rej) => setTimeout(() => rej(new Error(`timeout: ${what}`)), ms)),
  ]);

async function handle(c) {
  switch (c.op) {
    case "udp-bind":
      return { port: await bindUdp(c.sock, c.host, c.port) };
    case "udp-send": {
      const s = socks.get(c.sock);
      if (!s) throw new Error(`no socket ${c.sock}`);
      await new Promise((res, rej) =>
        s.send(c.data ?? "x", c.port, c.ip, (e) => (e ? rej(e) : res())),
      );
      return {};
    }
    case "udp-close":
      socks.get(c.sock)?.close();
      socks.delete(c.sock);
      return {};
    case "udp-ask": {
      const s = socks.get(c.sock);
      if (!s) throw new Error(`no socket ${c.sock}`);
      const got = new Promise((resolve) => {
        const list = askers.get(c.sock) ?? [];
        list.push({ ip: c.ip, port: c.port, resolve });
        askers.set(c.sock, list);
      });
      s.send(c.data ?? "ask", c.port, c.ip);
      const data = await withTimeout(got, c.timeoutMs ?? 2000, `udp reply from ${c.ip}:${c.port}`);
      return { reply: JSON.parse(data) };
    }
    case "tcp-ask":
      return await withTimeout(
        new Promise((resolve, reject) => {
          const sock = net.connect({ host: c.ip, port: c.port, localAddress: c.host });
          let buf = "";
          let localPort;
          sock.on("connect", () => {
            localPort = sock.localPort;
          });
          sock.on("data", (d) => {
            buf += d;
          });
          sock.on("error", reject);
          sock.on("close", () => {
            try {
              resolve({ localPort, reply: JSON.parse(buf.split("\n")[0]) });
            } catch {
              reject(new Error(`bad reply ${JSON.stringify(buf)}`));
            }
          });
        }),
        c.timeoutMs ?? 3000,
        `tcp ${c.ip}:${c.port}`,
      );
    case "http": {
      const ac = new AbortController();
      const t = setTimeout(() => ac.abort(), c.timeoutMs ?? 3000);
      try {
        const headers = c.token ? { authorization: `Bearer ${c.token}` } : {};
        const r = await fetch(c.url, { method: c.method ?? "GET", headers, signal: ac.signal });
        return { status: r.status, body: await r.text() };
      } finally {
        clearTimeout(t);
      }
    }
    case "tcp-open":
      return await withTimeout(
        new Promise((resolve, reject) => {
          const sock = net.connect({ host: c.ip, port: c.port, localAddress: c.host });
          sock.setNoDelay(true);
          sock.once("error", reject);
          sock.on("connect", () => {
            sock.removeListener("error", reject);
            sock.on("error", (e) => out({ ev: "tcp-error", conn: c.conn, error: String(e) }));
            conns.set(c.conn, sock);
            resolve({ localPort: sock.localPort });
          });
          sock.on("data", (d) => out({ ev: "tcp-data", conn: c.conn, hex: d.toString("hex") }));
          sock.on("close", () => {
            conns.delete(c.conn);
            out({ ev: "tcp-close", conn: c.conn });
          });
        }),
        c.timeoutMs ?? 3000,
        `tcp-open ${c.ip}:${c.port}`,
      );
    case "tcp-write": {
      const sock = conns.get(c.conn);
      if (!sock) throw new Error(`no connection ${c.conn}`);
      await new Promise((res, rej) =>
        sock.write(Buffer.from(c.data, "utf8"), (e) => (e ? rej(e) : res())),
      );
      return {};
    }
    case "tcp-close":
      conns.get(c.conn)?.end();
      return {};
    default:
      throw new Error(`unknown op ${c.op}`);
  }
}

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
    handle(c).then(
      (r) => out({ id: c.id, ...r }),
      (e) => out({ id: c.id, error: String(e?.message ?? e) }),
    );
  }
});
process.stdin.on("end", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
out({ ev: "ready" });
