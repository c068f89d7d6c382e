// The operator HTTP API of a node: health, readiness, metrics, admin.
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { HTTP_LIMITS } from "../../src/http/http-server.js";
import { encodeConnectRequest, encodeUdpRequest } from "../../src/protocol/index.js";
import {
  metricValue,
  peerFoundBytes,
  lobbyData,
  registerLobbyFixture,
  registerRawServer,
  resourcesClosedAfterEach,
  type TestMaster,
  waitFor,
} from "../helpers/master.js";

/** Closed after each test, which must leave no socket open. */
const resources = resourcesClosedAfterEach();

async function get(master: TestMaster, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${master.httpUrl}${path}`, { headers });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

describe("health and readiness", () => {
  it("/healthz answers 200 ok", async () => {
    const master = await resources.master({ http: true });
    const response = await get(master, "/healthz");
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({ status: "ok" });
  });

  it("/openapi.json describes every route from the route schemas", async () => {
    const master = await resources.master({ http: true });
    const response = await fetch(`${master.httpUrl}/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths).sort()).toEqual(
      [
        "/admin/nodes",
        "/admin/servers",
        "/admin/servers/{ip}",
        "/healthz",
        "/metrics",
        "/readyz",
      ].sort(),
    );
  });

  it("/readyz answers 200 with its checks while listening", async () => {
    const master = await resources.master({ http: true });
    const response = await get(master, "/readyz");
    expect(response.status).toBe(200);
    expect(response.json()).toMatchObject({
      ready: true,
      checks: { listening: true, store: true, notDraining: true },
    });
  });

  it("/readyz answers 503 while the node drains", async () => {
    const master = await resources.master({ http: true, config: { clientUdpWaitMs: 1_000 } });
    await registerRawServer(resources, master, "127.0.0.2");
    // A connect waiting for its client's UDP endpoint keeps the drain in progress.
    const client = await resources.tcp(master.gamePort, "127.0.0.3");
    client.send(encodeConnectRequest("127.0.0.2"));
    await waitFor(async () => {
      const { values } = await master.node.metrics.tcpCommands.get();
      return values.some((v) => v.labels.command === "connect");
    });
    const draining = master.node.drain();
    const response = await get(master, "/readyz");
    expect(response.status).toBe(503);
    expect(response.json()).toMatchObject({ ready: false, checks: { notDraining: false } });
    await draining;
    // The in-flight connect was answered before the sockets closed.
    await client.waitForClose();
    expect(client.chunks).toEqual([Buffer.from([0xfe])]);
  });
});

describe("HTTP clients cannot hold the node", () => {
  it("a drained node exits while a client has sent only half a request, and that socket is closed", async () => {
    const master = await resources.master({ http: true });
    const socket = resources.add(connect({ host: master.host, port: master.httpPort }), (s) =>
      s.destroy(),
    );
    socket.on("error", () => undefined);
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n"); // never finished
    const closed = new Promise((resolve) => socket.once("close", resolve));
    await master.node.drain();
    await closed;
  });

  it("bounds how long a request may take to arrive, idle keep-alive, and the number of sockets", async () => {
    const master = await resources.master({ http: true });
    const server = master.node.http?.server;
    expect({
      requestTimeout: server?.requestTimeout,
      headersTimeout: server?.headersTimeout,
      keepAliveTimeout: server?.keepAliveTimeout,
      timeout: server?.timeout,
      maxConnections: server?.maxConnections,
    }).toEqual({
      requestTimeout: HTTP_LIMITS.requestTimeoutMs,
      headersTimeout: HTTP_LIMITS.headersTimeoutMs,
      keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
      timeout: HTTP_LIMITS.connectionTimeoutMs,
      maxConnections: HTTP_LIMITS.maxConnections,
    });
    expect(HTTP_LIMITS.headersTimeoutMs).toBeLessThanOrEqual(HTTP_LIMITS.requestTimeoutMs);
  });
});

describe("/metrics", () => {
  it("exposes gmnet_ metrics that move as the protocol runs", async () => {
    const master = await resources.master({ http: true });
    const before = (await get(master, "/metrics")).text;
    expect(before).toContain("# TYPE gmnet_connect_outcomes_total counter");
    expect(before).toContain("gmnet_tcp_connections");
    expect(metricValue(before, "gmnet_connect_outcomes_total", '{outcome="found"}')).toBe(0);

    const server = await registerRawServer(resources, master, "127.0.0.2");
    const udp = await resources.udp("127.0.0.3");
    await udp.send(encodeUdpRequest("connect", true), master.gamePort);
    const client = await resources.tcp(master.gamePort, "127.0.0.3");
    client.send(encodeConnectRequest("127.0.0.2"));
    expect(await client.waitForChunks(1)).toEqual([peerFoundBytes("127.0.0.2", server.udp.port)]);

    const after = (await get(master, "/metrics")).text;
    expect(metricValue(after, "gmnet_connect_outcomes_total", '{outcome="found"}')).toBe(1);
    expect(metricValue(after, "gmnet_registered_servers", '{scope="node"}')).toBe(1);
    expect(metricValue(after, "gmnet_tcp_connections", '{role="server"}')).toBe(1);
    expect(metricValue(after, "gmnet_udp_datagrams_total", '{command="reg",result="ok"}')).toBe(1);
    expect(metricValue(after, "gmnet_udp_datagrams_total", '{command="connect",result="ok"}')).toBe(
      1,
    );
    expect(metricValue(after, "gmnet_mediation_duration_seconds_count", '{route="local"}')).toBe(1);
  });
});

describe("admin API", () => {
  async function withServers() {
    const master = await resources.master({ http: true });
    await registerLobbyFixture(resources, master);
    return master;
  }

  it("/admin/servers lists every server with its fields", async () => {
    const master = await withServers();
    const response = await get(master, "/admin/servers?sortBy=data2&direction=ASC");
    expect(response.status).toBe(200);
    const body = response.json() as {
      total: number;
      offset: number;
      servers: Array<Record<string, unknown>>;
    };
    expect(body.total).toBe(3);
    expect(body.offset).toBe(0);
    expect(body.servers.map((s) => s.ip)).toEqual(["127.0.0.4", "127.0.0.2", "127.0.0.5"]);
    expect(body.servers[0]).toMatchObject({
      ip: "127.0.0.4",
      version: "1.2.5",
      data: lobbyData("ctf", "a"),
      ownerNodeId: master.node.config.nodeId,
    });
    expect(typeof body.servers[0]?.udpPort).toBe("number");
    expect(typeof body.servers[0]?.createdTime).toBe("number");
  });

  it("/admin/servers filters on data fields and pages with limit and offset", async () => {
    const master = await withServers();
    const filtered = (
      await get(master, "/admin/servers?data1=dm&sortBy=data2&direction=DESC")
    ).json();
    expect(filtered.total).toBe(2);
    expect((filtered.servers as Array<{ ip: string }>).map((s) => s.ip)).toEqual([
      "127.0.0.5",
      "127.0.0.2",
    ]);

    const page = (
      await get(master, "/admin/servers?sortBy=data2&direction=ASC&limit=1&offset=1")
    ).json();
    expect(page.total).toBe(3);
    expect(page.offset).toBe(1);
    expect((page.servers as Array<{ ip: string }>).map((s) => s.ip)).toEqual(["127.0.0.2"]);
  });

  it.each([
    ["an unknown sort key", "sortBy=players"],
    ["an unknown direction", "direction=UP"],
    ["a zero limit", "limit=0"],
    ["a non-numeric offset", "offset=x"],
  ])("/admin/servers answers 400 on %s", async (_name, query) => {
    const master = await resources.master({ http: true });
    const response = await get(master, `/admin/servers?${query}`);
    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({
      error: expect.any(String),
      message: expect.any(String),
    });
  });

  it("/admin/servers/:ip answers 200 for a registered server, 404 for an unknown one, 400 for a bad IP", async () => {
    const master = await withServers();
    const found = await get(master, "/admin/servers/127.0.0.4");
    expect(found.status).toBe(200);
    expect(found.json()).toMatchObject({ ip: "127.0.0.4", data: lobbyData("ctf", "a") });

    const mapped = await get(master, "/admin/servers/::ffff:127.0.0.4");
    expect(mapped.status).toBe(200);

    const missing = await get(master, "/admin/servers/127.0.0.9");
    expect(missing.status).toBe(404);
    expect(missing.json()).toMatchObject({ error: "not_found" });

    const bad = await get(master, "/admin/servers/not-an-ip");
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ error: "bad_ip" });
  });

  it("/admin/nodes lists this node", async () => {
    const master = await resources.master({ http: true });
    await master.node.refresh();
    const body = (await get(master, "/admin/nodes")).json() as {
      self: string;
      nodes: Array<{ nodeId: string; servers: number }>;
    };
    expect(body.self).toBe(master.node.config.nodeId);
    expect(body.nodes).toEqual([
      expect.objectContaining({ nodeId: master.node.config.nodeId, servers: 0 }),
    ]);
  });

  it("with GMNET_ADMIN_TOKEN set, admin routes need the bearer token; health and metrics do not", async () => {
    const master = await resources.master({ http: true, env: { GMNET_ADMIN_TOKEN: "s3cret" } });
    for (const path of ["/admin/servers", "/admin/nodes", "/admin/servers/127.0.0.1"]) {
      const denied = await get(master, path);
      expect(denied.status).toBe(401);
      expect(denied.json()).toMatchObject({ error: "unauthorized" });
      expect((await get(master, path, { authorization: "Bearer wrong" })).status).toBe(401);
    }
    expect((await get(master, "/admin/servers", { authorization: "Bearer s3cret" })).status).toBe(
      200,
    );
    expect((await get(master, "/admin/nodes", { authorization: "Bearer s3cret" })).status).toBe(
      200,
    );
    expect((await get(master, "/healthz")).status).toBe(200);
    expect((await get(master, "/metrics")).status).toBe(200);
  });
  it("without a token the admin API answers loopback clients only; health and metrics stay open", async () => {
    const master = await resources.master({ http: true });
    const http = master.node.http;
    if (!http) throw new Error("no HTTP server");
    const remote = { remoteAddress: "203.0.113.9" };
    for (const url of ["/admin/servers", "/admin/nodes", "/admin/servers/127.0.0.1"]) {
      const refused = await http.inject({ url, ...remote });
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toMatchObject({ error: "admin_loopback_only" });
      expect((await http.inject({ url, remoteAddress: "127.0.0.1" })).statusCode).not.toBe(403);
      expect((await http.inject({ url, remoteAddress: "::1" })).statusCode).not.toBe(403);
    }
    expect((await http.inject({ url: "/healthz", ...remote })).statusCode).toBe(200);
    expect((await http.inject({ url: "/metrics", ...remote })).statusCode).toBe(200);
  });

  it("with a token set, a remote client with the token gets in and a wrong token of any length does not", async () => {
    const master = await resources.master({ http: true, env: { GMNET_ADMIN_TOKEN: "s3cret" } });
    const http = master.node.http;
    if (!http) throw new Error("no HTTP server");
    const remote = { url: "/admin/nodes", remoteAddress: "203.0.113.9" };
    expect(
      (await http.inject({ ...remote, headers: { authorization: "Bearer s3cret" } })).statusCode,
    ).toBe(200);
    for (const wrong of ["Bearer s3cre", "Bearer s3cretX", "Bearer ", "s3cret", "Basic s3cret"]) {
      expect((await http.inject({ ...remote, headers: { authorization: wrong } })).statusCode).toBe(
        401,
      );
    }
  });
});
