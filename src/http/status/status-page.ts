// The built-in status page: its static shell (HTML, CSS and JS shipped in the
// package: no build step, no CDN) and the one JSON endpoint the page polls.
// Registered inside the admin scope, so it has the admin API's protection.
import { readFileSync } from "node:fs";
import type { FastifyInstance, FastifyReply } from "fastify";
import { ipFormatter } from "../../logging.js";
import {
  LOBBY_QUERYSTRING_PROPERTIES,
  type LobbyQuerystring,
  lobbyQueryFrom,
} from "../lobby-querystring.js";
import { buildStatusSnapshot, type StatusQuery, serverKeyer } from "./status-snapshot.js";
import type { StatusSource } from "./status-source.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * A static file with no data in it: the admin guard lets it through
     * without the bearer token (a browser must load the page before it can
     * send one), but still keeps it to loopback clients when no token is set.
     */
    adminShell?: boolean;
  }
}

export interface StatusPageDependencies {
  source: StatusSource;
}

const PAGE_FILES = {
  "index.html": "text/html; charset=utf-8",
  "status.css": "text/css; charset=utf-8",
  "status.js": "text/javascript; charset=utf-8",
} as const;

type PageFile = keyof typeof PAGE_FILES;

// Only this node's own files: no inline script or style, no other origin.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const LOBBY_VIEW_DEFAULT_LIMIT = 50;

type StatusQuerystring = LobbyQuerystring & { server?: string };

/** Reads the page's files once: they ship next to this module (copied to dist/ by the build). */
function loadPageFiles(): Record<PageFile, Buffer> {
  const directory = new URL("./page/", import.meta.url);
  return Object.fromEntries(
    (Object.keys(PAGE_FILES) as PageFile[]).map((name) => [
      name,
      readFileSync(new URL(name, directory)),
    ]),
  ) as Record<PageFile, Buffer>;
}

function sendPageFile(reply: FastifyReply, files: Record<PageFile, Buffer>, name: PageFile) {
  return reply
    .header("content-type", PAGE_FILES[name])
    .header("cache-control", "no-cache")
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("x-frame-options", "DENY")
    .header("content-security-policy", CONTENT_SECURITY_POLICY)
    .send(files[name]);
}

/**
 * Adds GET /status (the page), its two assets and GET /admin/status (the
 * snapshot it polls) to `app`, which must be the admin scope.
 */
export function registerStatusPage(app: FastifyInstance, deps: StatusPageDependencies): void {
  const files = loadPageFiles();
  const formatIp = ipFormatter(deps.source.identity.logIp);
  const keyOf = serverKeyer();
  const shell = { schema: { hide: true }, config: { adminShell: true } };

  app.get("/status", shell, (_request, reply) => sendPageFile(reply, files, "index.html"));
  // Relative, so the redirect also works behind a proxy that serves the node under a path.
  app.get("/status/", shell, (_request, reply) => reply.redirect("../status", 308));
  app.get("/status/status.css", shell, (_request, reply) =>
    sendPageFile(reply, files, "status.css"),
  );
  app.get("/status/status.js", shell, (_request, reply) => sendPageFile(reply, files, "status.js"));

  app.get<{ Querystring: StatusQuerystring }>(
    "/admin/status",
    {
      schema: {
        // The page's own feed, not a stable API: /admin/servers and /admin/nodes are.
        hide: true,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            ...LOBBY_QUERYSTRING_PROPERTIES,
            server: { type: "string", pattern: "^[A-Za-z0-9_-]{1,32}$" },
          },
        },
      },
    },
    async (request, reply) => {
      const lobby = lobbyQueryFrom(request.query, LOBBY_VIEW_DEFAULT_LIMIT);
      const query: StatusQuery = {
        filters: lobby.filters,
        sortBy: lobby.sortBy,
        direction: lobby.sortDirection,
        limit: lobby.limit ?? LOBBY_VIEW_DEFAULT_LIMIT,
        serverKey: request.query.server ?? null,
      };
      const snapshot = await buildStatusSnapshot(deps.source, query, formatIp, keyOf);
      return reply.header("cache-control", "no-store").send(snapshot);
    },
  );
}
