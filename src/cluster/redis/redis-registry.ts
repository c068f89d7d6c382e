// The Registry on Redis: each domain step is one Lua script (one round trip),
// atomic across nodes.
import { EventEmitter } from "node:events";
import type { LobbyQuery } from "../../protocol/index.js";
import { applyLobbyQuery } from "../lobby.js";
import { MAX_CLIENT_ENDPOINTS_PER_IP, type StoreTimings } from "../timing.js";
import type {
  ConnectLookup,
  RefreshOutcome,
  RefreshResult,
  RegisterServerInput,
  RegisterServerResult,
  Registry,
  ServerRegistration,
} from "../types.js";
import type { RedisKeys } from "./keys.js";
import { LuaScript, type RedisClient } from "./lua-script.js";

const scripts = {
  recordServerUdp: LuaScript.load("record-server-udp"),
  registerServer: LuaScript.load("register-server"),
  unregisterServer: LuaScript.load("unregister-server"),
  recordClientUdp: LuaScript.load("record-client-udp"),
  beginConnect: LuaScript.load("begin-connect"),
  refreshOwned: LuaScript.load("refresh-owned"),
  lobby: LuaScript.load("lobby"),
};

/** How many registrations one refresh script carries (keeps each script short). */
const REFRESH_BATCH = 500;
const DATA_FIELDS = ["d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"] as const;

/** Wake-ups for TCP connects waiting on a UDP `connect`, fed by the bus. */
export class ClientUdpWakeups extends EventEmitter {
  constructor() {
    super();
    this.setMaxListeners(0);
  }

  wake(ip: string): void {
    this.emit(ip);
  }
}

export interface RedisRegistryOptions extends StoreTimings {
  nodeId: string;
  publishCommand: "publish" | "spublish";
}

export class RedisRegistry implements Registry {
  private readonly keyTtlMs: number;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: RedisRegistryOptions,
    private readonly wakeups: ClientUdpWakeups,
  ) {
    this.keyTtlMs = options.leaseMs * 2;
  }

  /** Loads every script into Redis' cache so the first connect costs one round trip, not two. */
  async preloadScripts(): Promise<void> {
    await Promise.all(Object.values(scripts).map((script) => script.preload(this.client)));
  }

  async recordServerUdp(ip: string, port: number): Promise<void> {
    await scripts.recordServerUdp.run(
      this.client,
      [this.keys.server(ip), this.keys.pendingServerUdp(ip)],
      [port, this.options.serverUdpBindWindowMs],
    );
  }

  async registerServer(input: RegisterServerInput): Promise<RegisterServerResult> {
    const data = Array.from({ length: 8 }, (_, i) => input.data[i] ?? "");
    const reply = (await scripts.registerServer.run(
      this.client,
      [
        this.keys.server(input.ip),
        this.keys.pendingServerUdp(input.ip),
        this.keys.serversByDate,
        this.keys.leases,
      ],
      [
        input.ip,
        input.version,
        ...data,
        input.ownerNodeId,
        input.ownerConnectionId,
        this.options.leaseMs,
        this.keyTtlMs,
        this.keys.byData1Prefix,
      ],
    )) as [string, string, string, string];
    const [udp, created, previousNode, previousConnection] = reply;
    const registration: ServerRegistration = {
      ip: input.ip,
      udpPort: udp === "" ? null : Number(udp),
      version: input.version,
      data,
      createdTimeSec: Number(created),
      ownerNodeId: input.ownerNodeId,
      ownerConnectionId: input.ownerConnectionId,
    };
    const replaced =
      previousConnection !== "" && previousConnection !== input.ownerConnectionId
        ? { ownerNodeId: previousNode, ownerConnectionId: previousConnection }
        : null;
    return { registration, replaced };
  }

  async unregisterServer(ip: string, ownerConnectionId: string): Promise<boolean> {
    const removed = await scripts.unregisterServer.run(
      this.client,
      [this.keys.server(ip), this.keys.serversByDate, this.keys.leases],
      [ip, ownerConnectionId, this.keys.byData1Prefix],
    );
    return removed === 1;
  }

  async findServer(ip: string): Promise<ServerRegistration | null> {
    const fields = await this.client.hgetall(this.keys.server(ip));
    return parseServerHash(ip, fields);
  }

  async recordClientUdp(ip: string, port: number): Promise<void> {
    await scripts.recordClientUdp.run(
      this.client,
      [this.keys.clientEndpoints(ip), this.keys.clientWaiters(ip)],
      [
        port,
        this.options.clientUdpTtlMs,
        MAX_CLIENT_ENDPOINTS_PER_IP,
        this.options.publishCommand,
        this.keys.nodeChannelPrefix,
        JSON.stringify({ type: "client-udp", ip }),
      ],
    );
  }

  async beginConnect(serverIp: string, clientIp: string): Promise<ConnectLookup> {
    const reply = (await scripts.beginConnect.run(
      this.client,
      [
        this.keys.server(serverIp),
        this.keys.clientEndpoints(clientIp),
        this.keys.clientWaiters(clientIp),
      ],
      [this.options.clientUdpTtlMs, this.options.nodeId, this.options.clientUdpTtlMs, "1"],
    )) as [number, string?, string[]?];
    if (reply[0] === 0) return { server: null, clientUdpPort: null };
    const server = parseServerHash(serverIp, pairsToRecord(reply[2] ?? []));
    const port = reply[1] ?? "";
    return { server, clientUdpPort: port === "" ? null : Number(port) };
  }

  async awaitClientUdp(clientIp: string, timeoutMs: number): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Listen before claiming, so a wake-up that races the claim is not missed.
      let woken = false;
      let wake: () => void = () => {
        woken = true;
      };
      const onWake = () => wake();
      this.wakeups.once(clientIp, onWake);
      try {
        const port = await this.claimClientEndpoint(clientIp);
        if (port !== null) return port;
        const remainingMs = deadline - Date.now();
        if (remainingMs <= 0) return null;
        if (!woken) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, remainingMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        if (Date.now() >= deadline) return this.claimClientEndpoint(clientIp);
      } finally {
        this.wakeups.off(clientIp, onWake);
      }
    }
  }

  async queryLobby(query: LobbyQuery): Promise<ServerRegistration[]> {
    const byDate = query.sortBy === "date";
    const reply = (await scripts.lobby.run(
      this.client,
      [this.keys.serversByDate],
      [
        this.keys.byData1Prefix,
        this.keys.serverPrefix,
        query.sortDirection === "ASC" ? "1" : "0",
        byDate && query.limit !== null ? query.limit : -1,
        ...Array.from({ length: 8 }, (_, i) => query.filters[i] ?? ""),
      ],
    )) as Array<string | null>;
    const registrations: ServerRegistration[] = [];
    for (let i = 0; i + 13 < reply.length; i += 14) {
      const [ip, u, v, d1, d2, d3, d4, d5, d6, d7, d8, c, n, o] = reply.slice(i, i + 14);
      registrations.push({
        ip: ip ?? "",
        udpPort: u ? Number(u) : null,
        version: v ?? "",
        data: [d1, d2, d3, d4, d5, d6, d7, d8].map((d) => d ?? ""),
        createdTimeSec: Number(c ?? 0),
        ownerNodeId: n ?? "",
        ownerConnectionId: o ?? "",
      });
    }
    // Same ordering rules as the memory store (the script already pre-ordered by date).
    return applyLobbyQuery(registrations, query);
  }

  async countServers(): Promise<number> {
    return this.client.zcard(this.keys.serversByDate);
  }

  async refreshOwned(registrations: readonly ServerRegistration[]): Promise<RefreshResult[]> {
    const results: RefreshResult[] = [];
    let offset = 0;
    do {
      const batch = registrations.slice(offset, offset + REFRESH_BATCH);
      const args: Array<string | number> = [
        this.options.leaseMs,
        this.keyTtlMs,
        this.keys.byData1Prefix,
        this.keys.serverPrefix,
      ];
      for (const r of batch) {
        args.push(r.ip, r.ownerConnectionId, r.ownerNodeId, r.udpPort ?? "", r.version);
        for (let i = 0; i < 8; i++) args.push(r.data[i] ?? "");
        args.push(r.createdTimeSec);
      }
      const reply = (await scripts.refreshOwned.run(
        this.client,
        [this.keys.serversByDate, this.keys.leases],
        args,
      )) as [RefreshOutcome[], number, string[]];
      reply[0].forEach((outcome, i) => {
        const port = reply[2][i] ?? "";
        results.push({ outcome, udpPort: port === "" ? null : Number(port) });
      });
      offset += REFRESH_BATCH;
    } while (offset < registrations.length);
    return results;
  }

  async close(): Promise<void> {
    this.wakeups.removeAllListeners();
  }

  private async claimClientEndpoint(clientIp: string): Promise<number | null> {
    const reply = (await scripts.beginConnect.run(
      this.client,
      [
        this.keys.serversByDate,
        this.keys.clientEndpoints(clientIp),
        this.keys.clientWaiters(clientIp),
      ],
      [this.options.clientUdpTtlMs, this.options.nodeId, this.options.clientUdpTtlMs, "0"],
    )) as [number, string?];
    const port = reply[1] ?? "";
    return port === "" ? null : Number(port);
  }
}

function pairsToRecord(pairs: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) record[pairs[i] as string] = pairs[i + 1] as string;
  return record;
}

function parseServerHash(ip: string, fields: Record<string, string>): ServerRegistration | null {
  if (fields.o === undefined) return null;
  return {
    ip,
    udpPort: fields.u ? Number(fields.u) : null,
    version: fields.v ?? "",
    data: DATA_FIELDS.map((field) => fields[field] ?? ""),
    createdTimeSec: Number(fields.c ?? 0),
    ownerNodeId: fields.n ?? "",
    ownerConnectionId: fields.o,
  };
}
