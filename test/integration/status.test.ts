// The status page over HTTP on a live node: protected like the admin API,
// its snapshot counts what the node holds and its counters move with traffic.
import { describe, expect, it } from "vitest";
import type { StatusSnapshot } from "../../src/http/status/status-snapshot.js";
import { encodeConnectRequest, encodeUdpRequest } from "../../src/protocol/index.js";
import {
  lobbyData,
  peerFoundBytes,
  registerLobbyFixture,
  registerRawServer,
  resourcesClosedAfterEach,
  type TestMaster,
  waitFor,
} from "../helpers/master.js";

/** Closed after each test, which must leave no socket open. */
const resources = resourcesClosedAfterEach();

async function status(master: TestMaster, query = ""): Promise<StatusSnapshot> {
  const response = await fetch(`${master.httpUrl}/admin/status${query}`);
  expect(response.status).toBe(200);
  expect(response.headers.get("cache-control")).toBe("no-store");
  return (await response.json()) as StatusSnapshot;
}

function http(master: TestMaster) {
  const app = master.node.http;
  if (!app) throw new Error("no HTTP server");
  return app;
}

describe("status page", () => {
  it("serves its shell and assets from the node, with a policy allowing nothing from elsewhere", async () => {
    const master = await resources.master({ http: true });
    const page = await fetch(`${master.httpUrl}/status`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain('src="status/status.js"');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//); // no CDN: the page works offline
    for (const [asset, type] of [
      ["status.js", "text/javascript; charset=utf-8"],
      ["status.css", "text/css; charset=utf-8"],
    ]) {
      const response = await fetch(`${master.httpUrl}/status/${asset}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe(type);
    }
    const slash = await fetch(`${master.httpUrl}/status/`, { redirect: "manual" });
    expect(slash.status).toBe(308);
  });

  it("counts registered servers per game and lists the lobby with filters, sort and limit", async () => {
    const master = await resources.master({ http: true });
    await registerLobbyFixture(resources, master); // dm/b on .2, ctf/a on .4, dm/c on .5
    await master.node.refresh();
    const all = await status(master);
    expect(all.servers).toEqual({
      total: 3,
      scanned: 3,
      byGame: [
        { game: "dm", servers: 2 },
        { game: "ctf", servers: 1 },
      ],
    });
    expect(all.nodes).toEqual([
      expect.objectContaining({ nodeId: master.node.config.nodeId, self: true, servers: 3 }),
    ]);
    expect(all.node).toMatchObject({ ready: true, storeMode: "memory", logIp: "full" });
    expect(all.warnings).toEqual([]);

    const dm = await status(master, "?data1=dm&sortBy=data2&direction=DESC&limit=1");
    expect(dm.lobby.total).toBe(2);
    expect(dm.lobby.servers.map((s) => s.ip)).toEqual(["127.0.0.5"]);

    const key = dm.lobby.servers[0]?.key ?? "";
    const detail = await status(master, `?server=${key}`);
    expect(detail.detail).toMatchObject({ ip: "127.0.0.5", version: "1.2.5", ownerAlive: true });
  });

  it("counts and lists more servers than one game lobby reply holds, each with its detail", async () => {
    const master = await resources.master({ http: true });
    const count = 20; // a 1200-byte lobby reply holds about nine of these
    for (let i = 0; i < count; i++) {
      await registerRawServer(resources, master, `127.0.1.${i + 1}`, {
        version: "1.2.5",
        data: lobbyData(i < 15 ? "old" : "new", `row${i}`, "x".repeat(60)),
      });
    }
    const all = await status(master);
    expect(all.servers.total).toBe(count);
    expect(all.servers.byGame).toEqual([
      { game: "old", servers: 15 },
      { game: "new", servers: 5 },
    ]);
    const oldest = await status(master, "?data1=old&direction=ASC");
    expect(oldest.lobby.total).toBe(15);
    const detail = await status(master, `?server=${oldest.lobby.servers[0]?.key}`);
    expect(detail.detail?.ip).toBe("127.0.1.1");
    const admin = (await (await fetch(`${master.httpUrl}/admin/servers?limit=5`)).json()) as {
      total: number;
      servers: unknown[];
    };
    expect(admin).toMatchObject({ total: count });
    expect(admin.servers).toHaveLength(5);
  });

  it("shows hashed IPs, never raw ones, when GMNET_LOG_IP=hash", async () => {
    const master = await resources.master({ http: true, env: { GMNET_LOG_IP: "hash" } });
    await registerLobbyFixture(resources, master);
    const body = JSON.stringify(await status(master));
    expect(body).not.toMatch(/127\.0\.0\.[245]/);
    expect(body).toMatch(/"ip":"ip-[0-9a-f]{12}"/);
  });

  it("charts the node's own counters: a found connect shows as a rate and a total", async () => {
    const master = await resources.master({ http: true });
    const server = await registerRawServer(resources, master, "127.0.0.2");
    const udp = await resources.udp("127.0.0.3");
    await udp.send(encodeUdpRequest("connect", true), master.gamePort);
    const client = await resources.tcp(master.gamePort, "127.0.0.3");
    client.send(encodeConnectRequest("127.0.0.2"));
    expect(await client.waitForChunks(1)).toEqual([peerFoundBytes("127.0.0.2", server.udp.port)]);

    const snapshot = await waitFor(
      async () => {
        const s = await status(master);
        return (s.mediation.rates.connects.found ?? []).some((v) => v > 0) && s;
      },
      5_000,
      "a found connect in the status page's rates",
      100,
    );
    expect(snapshot.mediation.totals.connects).toEqual({ found: 1 });
    expect(snapshot.mediation.intervalMs).toBe(1_000);
    expect(snapshot.mediation.timesMs.length).toBe(snapshot.mediation.rates.connects.found?.length);
  });

  it.each([
    ["a zero limit", "limit=0"],
    ["an unknown sort key", "sortBy=players"],
    ["a server key that is not one", "server=../../etc"],
  ])("answers 400 on %s", async (_name, query) => {
    const master = await resources.master({ http: true });
    const response = await fetch(`${master.httpUrl}/admin/status?${query}`);
    expect(response.status).toBe(400);
  });

  it("without a token, answers loopback clients only: page and data alike", async () => {
    const master = await resources.master({ http: true });
    for (const url of ["/status", "/status/status.js", "/admin/status"]) {
      const remote = await http(master).inject({ url, remoteAddress: "203.0.113.9" });
      expect(remote.statusCode).toBe(403);
      expect(remote.json()).toMatchObject({ error: "admin_loopback_only" });
      expect((await http(master).inject({ url, remoteAddress: "127.0.0.1" })).statusCode).toBe(200);
    }
  });

  it("with a token, serves the data-free page to anyone but its data only with the bearer token", async () => {
    const master = await resources.master({ http: true, env: { GMNET_ADMIN_TOKEN: "s3cret" } });
    const remote = { remoteAddress: "203.0.113.9" };
    for (const url of ["/status", "/status/status.js", "/status/status.css"]) {
      expect((await http(master).inject({ url, ...remote })).statusCode).toBe(200);
    }
    const url = "/admin/status";
    expect((await http(master).inject({ url, ...remote })).statusCode).toBe(401);
    const wrong = { authorization: "Bearer nope" };
    expect((await http(master).inject({ url, ...remote, headers: wrong })).statusCode).toBe(401);
    const right = { authorization: "Bearer s3cret" };
    const allowed = await http(master).inject({ url, ...remote, headers: right });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json()).toMatchObject({ node: { tokenRequired: true } });
  });

  it("has no page when the HTTP server is off, and keeps it out of the OpenAPI description", async () => {
    const master = await resources.master({ http: true });
    const document = (await (await fetch(`${master.httpUrl}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(document.paths).filter((p) => p.includes("status"))).toEqual([]);
    const off = await resources.master();
    expect(off.node.http).toBeNull();
  });
});
