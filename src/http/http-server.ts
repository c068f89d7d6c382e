// HTTP for operators: liveness, readiness, Prometheus metrics and a small
// JSON admin API (lobby with filters and paging, nodes, one server by IP).
import { createHash, timingSafeEqual } from "node:crypto";
import swagger from "@fastify/swagger";
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import type { Logger } from "pino";
import type { NodeDirectory, Registry, ServerRegistration } from "../cluster/types.js";
import type { MasterMetrics } from "../metrics.js";
import {
  LOBBY_QUERYSTRING_PROPERTIES,
  type LobbyQuerystring,
  lobbyQueryFrom,
} from "./lobby-querystring.js";
import { MASTER_VERSION } from "../version.js";
import { normalizeIp } from "../protocol/index.js";
import { DESCRIPTOR_RESERVE } from "../transport/connection-cap.js";
import { registerStatusPage } from "./status/status-page.js";
import type { StatusSource } from "./status/status-source.js";

export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean>;
  /** Problems that do not make the node unready but that an operator must see. */
  warnings?: string[];
}

export interface HttpServerDependencies {
  registry: Registry;
  nodes: NodeDirectory;
  metrics: MasterMetrics;
  logger: Logger;
  adminToken: string | null;
  readiness: () => Readiness;
  nodeId: string;
  /** Servers one admin query examines at most (as a lobby query does). */
  lobbyScanLimit: number;
  /** Feeds the status page (/status, /admin/status); without it there is no page. */
  status?: StatusSource;
}

const serverSchema = {
  type: "object",
  properties: {
    ip: { type: "string" },
    udpPort: { type: ["integer", "null"] },
    version: { type: "string" },
    data: { type: "array", items: { type: "string" } },
    createdTime: { type: "integer" },
    ownerNodeId: { type: "string" },
  },
  required: ["ip", "udpPort", "version", "data", "createdTime", "ownerNodeId"],
} as const;

const errorSchema = {
  type: "object",
  properties: { error: { type: "string" }, message: { type: "string" } },
  required: ["error", "message"],
} as const;

type ServersQuerystring = LobbyQuerystring & { offset?: number };

/**
 * Who holds an HTTP socket and for how long. Its clients are probes, a
 * scraper, the status page (a poll every 2 s) and an operator: each request
 * is a small GET. Without bounds, a client that sends half a request holds its
 * socket for Node's 300 s and keeps a drained node from exiting, and enough of
 * them take the descriptors the game port leaves for HTTP and Redis.
 */
export const HTTP_LIMITS = {
  /** The whole request, headers included, must arrive within this. */
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 5_000,
  /** A socket with no traffic at all (a request stuck in a handler included). */
  connectionTimeoutMs: 10_000,
  /** An idle keep-alive socket waits this long for its next request (longer than the status page's poll). */
  keepAliveTimeoutMs: 5_000,
  /** How often Node checks the request and header timeouts (its default, 30 s, would outlast them). */
  timeoutCheckIntervalMs: 1_000,
  /** Half of the descriptors kept out of the game port's cap: the rest is Redis' and the logs'. */
  maxConnections: DESCRIPTOR_RESERVE / 2,
} as const;

function serverView(server: ServerRegistration) {
  return {
    ip: server.ip,
    udpPort: server.udpPort,
    version: server.version,
    data: server.data,
    createdTime: server.createdTimeSec,
    ownerNodeId: server.ownerNodeId,
  };
}

/** How the admin API is reachable; said once at start, and enforced on every /admin route. */
export function adminExposure(adminToken: string | null): string {
  return adminToken
    ? "admin API: a bearer token is required (GMNET_ADMIN_TOKEN)"
    : "admin API: loopback clients only (set GMNET_ADMIN_TOKEN to reach it from elsewhere with a token)";
}

function isLoopback(address: string | undefined): boolean {
  const ip = normalizeIp(address ?? "");
  return ip !== null && (ip === "::1" || ip.startsWith("127."));
}

/** Compares digests, so the time taken says nothing about how much of the token matched. */
function tokenMatches(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

export async function buildHttpServer(deps: HttpServerDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: "http" }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // close() (the end of every drain) ends sockets mid-request too: nobody holds the exit.
    forceCloseConnections: true,
    requestTimeout: HTTP_LIMITS.requestTimeoutMs,
    connectionTimeout: HTTP_LIMITS.connectionTimeoutMs,
    keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
    http: {
      headersTimeout: HTTP_LIMITS.headersTimeoutMs,
      connectionsCheckingInterval: HTTP_LIMITS.timeoutCheckIntervalMs,
    },
  });
  app.server.maxConnections = HTTP_LIMITS.maxConnections;

  // Closed by default: without a token only loopback clients (an SSH tunnel,
  // kubectl port-forward) see player IPs; with one, the token is required everywhere.
  const guardAdmin = async (request: FastifyRequest, reply: FastifyReply) => {
    const token = deps.adminToken;
    if (token === null) {
      if (isLoopback(request.socket.remoteAddress)) return;
      await reply.code(403).send({
        error: "admin_loopback_only",
        message:
          "the admin API answers only loopback clients unless GMNET_ADMIN_TOKEN is set on the node",
      });
      return;
    }
    // The status page's static files hold no data, and a browser must load them
    // before it can send the token: only the loopback rule above covers them.
    if (request.routeOptions.config.adminShell === true) return;
    const header = request.headers.authorization ?? "";
    if (!header.startsWith("Bearer ") || !tokenMatches(header.slice(7), token)) {
      await reply
        .code(401)
        .header("www-authenticate", 'Bearer realm="gmnet-master"')
        .send({ error: "unauthorized", message: "a valid bearer token is required" });
    }
  };

  // OpenAPI 3 from the route schemas, served at /openapi.json.
  await app.register(swagger, {
    openapi: {
      info: { title: "gmnet-master admin API", version: MASTER_VERSION },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    },
  });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  app.get(
    "/healthz",
    {
      schema: { response: { 200: { type: "object", properties: { status: { type: "string" } } } } },
    },
    async () => ({
      status: "ok",
    }),
  );

  app.get("/readyz", async (_request, reply) => {
    const readiness = deps.readiness();
    return reply.code(readiness.ready ? 200 : 503).send({
      ready: readiness.ready,
      checks: readiness.checks,
      warnings: readiness.warnings ?? [],
    });
  });

  app.get("/metrics", async (_request, reply) => {
    const body = await deps.metrics.prometheus.metrics();
    return reply.header("content-type", deps.metrics.prometheus.contentType).send(body);
  });

  app.register(async (admin) => {
    admin.addHook("onRequest", guardAdmin);

    admin.get<{ Querystring: ServersQuerystring }>(
      "/admin/servers",
      {
        schema: {
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              ...LOBBY_QUERYSTRING_PROPERTIES,
              offset: { type: "integer", minimum: 0 },
            },
          },
          response: {
            200: {
              type: "object",
              properties: {
                total: { type: "integer" },
                offset: { type: "integer" },
                servers: { type: "array", items: serverSchema },
              },
              required: ["total", "offset", "servers"],
            },
          },
        },
      },
      async (request) => {
        const q = request.query;
        // Every match within the scan; the page is cut below.
        const query = lobbyQueryFrom(q, null);
        query.limit = null;
        const all = await deps.registry.queryLobby(query, {
          scanLimit: deps.lobbyScanLimit,
          replyMaxBytes: null,
        });
        const offset = q.offset ?? 0;
        const limit = q.limit ?? 100;
        // Unfiltered, the store's count: the scan stops at its limit, the store does not.
        const unfiltered = query.filters.every((filter) => filter === "");
        return {
          total: unfiltered ? await deps.registry.countServers() : all.length,
          offset,
          servers: all.slice(offset, offset + limit).map(serverView),
        };
      },
    );

    admin.get<{ Params: { ip: string } }>(
      "/admin/servers/:ip",
      {
        schema: {
          params: {
            type: "object",
            properties: { ip: { type: "string", maxLength: 64 } },
            required: ["ip"],
          },
          response: { 200: serverSchema, 400: errorSchema, 404: errorSchema },
        },
      },
      async (request, reply) => {
        const ip = normalizeIp(request.params.ip);
        if (!ip)
          return reply
            .code(400)
            .send({ error: "bad_ip", message: `${request.params.ip} is not an IP address` });
        const server = await deps.registry.findServer(ip);
        if (!server)
          return reply
            .code(404)
            .send({ error: "not_found", message: `no server registered from ${ip}` });
        return serverView(server);
      },
    );

    admin.get(
      "/admin/nodes",
      {
        schema: {
          response: {
            200: {
              type: "object",
              properties: {
                self: { type: "string" },
                nodes: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: {
                      nodeId: { type: "string" },
                      startedAtMs: { type: "integer" },
                      lastSeenMs: { type: "integer" },
                      servers: { type: "integer" },
                    },
                  },
                },
              },
            },
          },
        },
      },
      async () => ({ self: deps.nodeId, nodes: await deps.nodes.list() }),
    );

    if (deps.status) registerStatusPage(admin, { source: deps.status });
  });

  app.setErrorHandler(
    async (error: Error & { statusCode?: number; code?: string }, _request, reply) => {
      const statusCode = error.statusCode ?? 500;
      if (statusCode >= 500) deps.logger.error({ err: error }, "admin API error");
      return reply.code(statusCode).send({
        error: statusCode >= 500 ? "internal_error" : (error.code ?? "bad_request"),
        message: statusCode >= 500 ? "internal error (see the node's log)" : error.message,
      });
    },
  );

  return app;
}
