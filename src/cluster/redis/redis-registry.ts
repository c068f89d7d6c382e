// The Registry on Redis: each domain step is one Lua script (one round trip),
// atomic across nodes; each script's reply has a typed decoder here.
import type { LobbyQuery } from "../../protocol/index.js";
import {
  compareForLobby,
  LOBBY_ENTRY_OVERHEAD_BYTES,
  largestEntryBytes,
  withinBytes,
} from "../lobby.js";
import {
  keyTtlMs,
  MAX_CLIENT_ENDPOINTS_PER_IP,
  MAX_PENDING_SERVER_PORTS,
  type StoreTimings,
} from "../timing.js";
import type {
  ConnectLookup,
  HandedClientUdp,
  LobbyBounds,
  OwnedRef,
  RefreshResult,
  RegisterServerInput,
  RegisterServerResult,
  Registry,
  RestoreResult,
  ServerRegistration,
  ServerUdpOutcome,
} from "../types.js";
import type { RedisKeys } from "./keys.js";
import { encodeChannelMessage } from "./node-messages.js";
import type { PubSub } from "./pubsub.js";
import { type RedisArgument, type RedisClient, RedisScript, reply } from "./redis-script.js";
import {
  DATA_FIELD_NAMES,
  decodeServerRead,
  decodeServerReads,
  SERVER_READ_FIELDS,
} from "./server-hash.js";
import type { StoreWakeups } from "./store-wakeups.js";

const SERVER_UDP_OUTCOMES: readonly ServerUdpOutcome[] = ["bound", "pending", "conflict"];

/** Outcomes per owned registration, and the store's UDP port of each. */
function decodeOwnedOutcomes<T extends string>(
  allowed: readonly T[],
): (
  raw: unknown,
  fail: (detail: string) => never,
) => Array<{ outcome: T; udpPort: number | null }> {
  return (raw, fail) => {
    const [outcomes, ports] = reply.array(raw, fail);
    const list = reply.array(outcomes, fail);
    const portList = reply.array(ports, fail);
    return list.map((value, i) => {
      const outcome = allowed.find((o) => o === value) ?? fail(`outcome ${String(value)}`);
      return { outcome, udpPort: reply.port(portList[i] ?? "", fail) };
    });
  };
}

const scripts = {
  recordServerUdp: new RedisScript<ServerUdpOutcome>(
    "record-server-udp",
    (raw, fail) => SERVER_UDP_OUTCOMES.find((o) => o === raw) ?? fail(String(raw)),
  ),
  registerServer: new RedisScript("register-server", (raw, fail) => {
    const [udp, created, previousNode, previousConnection, conflict] = reply.array(raw, fail);
    return {
      udpPort: reply.port(udp, fail),
      createdTimeSec: Number(reply.text(created, fail)),
      previousNode: reply.text(previousNode, fail),
      previousConnection: reply.text(previousConnection, fail),
      udpConflict: Number(conflict) === 1,
    };
  }),
  unregisterServer: new RedisScript("unregister-server", (raw) => Number(raw) === 1),
  recordClientUdp: new RedisScript("record-client-udp", (raw) => Number(raw) === 1),
  beginConnect: new RedisScript("begin-connect", (raw, fail) => {
    const [status, port, fields, heartbeat, older] = reply.array(raw, fail);
    const beat = typeof heartbeat === "string" && heartbeat !== "" ? Number(heartbeat) : null;
    return {
      status: reply.text(status, fail),
      port: status === "not_found" ? null : reply.port(port, fail),
      fields: status === "not_found" ? [] : (reply.array(fields, fail) as Array<string | null>),
      ownerHeartbeatMs: beat !== null && Number.isFinite(beat) ? beat : null,
      olderEndpoint: older === "1",
    };
  }),
  cancelWait: new RedisScript<HandedClientUdp>("cancel-wait", (raw, fail) =>
    raw === "busy" ? "busy" : reply.port(raw, fail),
  ),
  markHandover: new RedisScript("mark-handover", (raw) => Number(raw) === 1),
  refreshOwned: new RedisScript(
    "refresh-owned",
    decodeOwnedOutcomes(["kept", "missing", "superseded"] as const),
  ),
  restoreOwned: new RedisScript(
    "restore-owned",
    decodeOwnedOutcomes(["restored", "superseded"] as const),
  ),
  lobby: new RedisScript("lobby", (raw, fail) =>
    decodeServerReads(reply.array(raw, fail) as Array<string | null>),
  ),
};

/**
 * Registrations one refresh or restore script carries: a script holds Redis
 * while it runs, so batches stay short (100: well under a millisecond).
 */
export const OWNED_BATCH = 100;

export interface RedisRegistryOptions extends StoreTimings {
  nodeId: string;
}

export class RedisRegistry implements Registry {
  private readonly keyTtlMs: number;
  private nextWaiterId = 0;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: RedisRegistryOptions,
    private readonly pubsub: PubSub,
    private readonly wakeups: StoreWakeups,
  ) {
    this.keyTtlMs = keyTtlMs(options.leaseMs);
  }

  /** Loads every script into Redis (on each (re)connect), so no connect pays a NOSCRIPT. */
  async preloadScripts(): Promise<void> {
    await Promise.all(Object.values(scripts).map((script) => script.preload(this.client)));
  }

  recordServerUdp(ip: string, port: number): Promise<ServerUdpOutcome> {
    return scripts.recordServerUdp.run(
      this.client,
      [this.keys.server(ip), this.keys.pendingServerPorts(ip)],
      [port, this.options.serverUdpBindWindowMs, MAX_PENDING_SERVER_PORTS],
    );
  }

  async registerServer(input: RegisterServerInput): Promise<RegisterServerResult> {
    const result = await scripts.registerServer.run(
      this.client,
      [
        this.keys.server(input.ip),
        this.keys.pendingServerPorts(input.ip),
        this.keys.serversByDate,
        this.keys.leases,
        this.keys.serverWaiters(input.ip),
      ],
      [
        input.ip,
        input.version,
        ...DATA_FIELD_NAMES.map((_, i) => input.data[i] ?? ""),
        input.ownerNodeId,
        input.ownerConnectionId,
        this.options.leaseMs,
        this.keyTtlMs,
        this.keys.byData1Prefix,
        this.options.serverUdpBindWindowMs,
        this.pubsub.publishCommand,
        this.keys.nodeChannelPrefix,
        encodeChannelMessage({ type: "server-registered", ip: input.ip }),
      ],
    );
    const replaced =
      result.previousConnection !== "" && result.previousConnection !== input.ownerConnectionId
        ? { ownerNodeId: result.previousNode, ownerConnectionId: result.previousConnection }
        : null;
    return {
      registration: {
        ip: input.ip,
        udpPort: result.udpPort,
        version: input.version,
        data: [...input.data],
        createdTimeSec: result.createdTimeSec,
        ownerNodeId: input.ownerNodeId,
        ownerConnectionId: input.ownerConnectionId,
      },
      replaced,
      udpConflict: result.udpConflict,
    };
  }

  unregisterServer(ip: string, ownerConnectionId: string): Promise<boolean> {
    return scripts.unregisterServer.run(
      this.client,
      [this.keys.server(ip), this.keys.serversByDate, this.keys.leases],
      [ip, ownerConnectionId, this.keys.byData1Prefix],
    );
  }

  async findServer(ip: string): Promise<ServerRegistration | null> {
    const values = await this.client.hmget(this.keys.server(ip), ...SERVER_READ_FIELDS);
    return decodeServerRead(ip, values);
  }

  async recordClientUdp(ip: string, port: number): Promise<void> {
    await scripts.recordClientUdp.run(
      this.client,
      [this.keys.clientEndpoints(ip), this.keys.waitingConnects(ip)],
      [
        port,
        this.options.clientUdpTtlMs,
        MAX_CLIENT_ENDPOINTS_PER_IP,
        this.pubsub.publishCommand,
        this.keys.nodeChannelPrefix,
        this.keys.handedPortPrefix,
        this.keys.serverPrefix,
        this.options.replyGapMs,
        this.options.serverReplyBacklogMs,
      ],
    );
  }

  async beginConnect(serverIp: string, clientIp: string, waitedMs = 0): Promise<ConnectLookup> {
    const waiterId = String(++this.nextWaiterId);
    const waiterEntry = this.keys.waitingConnect(this.options.nodeId, waiterId, serverIp);
    // Armed before the step: its wake-up may overtake the step's own reply.
    const clientLatch = this.wakeups.clientPorts.arm(waiterId);
    const serverLatch = this.wakeups.servers.arm(serverIp);
    let result: Awaited<ReturnType<(typeof scripts)["beginConnect"]["run"]>>;
    try {
      result = await scripts.beginConnect.run(
        this.client,
        [
          this.keys.server(serverIp),
          this.keys.clientEndpoints(clientIp),
          this.keys.waitingConnects(clientIp),
          this.keys.serverWaiters(serverIp),
          this.keys.nodes,
        ],
        [
          this.options.clientUdpTtlMs,
          waiterEntry,
          this.options.replyGapMs,
          this.options.serverReplyBacklogMs,
          this.options.nodeId,
          this.options.handoverWaitMs,
          this.options.clientUdpFreshMs + waitedMs,
        ],
      );
    } catch (error) {
      this.wakeups.clientPorts.disarm(clientLatch);
      this.wakeups.servers.disarm(serverLatch);
      throw error;
    }
    const server = decodeServerRead(serverIp, result.fields);
    const waiting = result.status === "ready" && result.port === null && server !== null;
    if (!waiting) this.wakeups.clientPorts.disarm(clientLatch);
    if (result.status !== "handover" || server === null) this.wakeups.servers.disarm(serverLatch);
    if (server === null) return { status: "not_found" };
    switch (result.status) {
      case "handover":
        return {
          status: "handover",
          server,
          awaitRegistration: async (timeoutMs) =>
            (await this.wakeups.servers.wait(serverLatch, timeoutMs)) !== null,
        };
      case "server_udp_unknown":
      case "busy":
        return { status: result.status, server };
      case "ready":
        if (result.port !== null) {
          return {
            status: "ready",
            server,
            clientUdpPort: result.port,
            ownerHeartbeatMs: result.ownerHeartbeatMs,
          };
        }
        return {
          status: "waiting",
          server,
          ownerHeartbeatMs: result.ownerHeartbeatMs,
          olderEndpoint: result.olderEndpoint,
          awaitClientUdp: async (timeoutMs) => {
            const handed = await this.wakeups.clientPorts.wait(clientLatch, timeoutMs);
            if (handed !== null) return handed;
            // Timed out, or the wake-up was lost: leave the queue, and take a port
            // handed to this waiter meanwhile so no endpoint is lost.
            return scripts.cancelWait.run(
              this.client,
              [
                this.keys.waitingConnects(clientIp),
                `${this.keys.handedPortPrefix}${waiterEntry}`,
                this.keys.clientEndpoints(clientIp),
                this.keys.server(serverIp),
              ],
              [
                waiterEntry,
                this.options.clientUdpTtlMs,
                this.options.replyGapMs,
                this.options.serverReplyBacklogMs,
              ],
            );
          },
        };
      default:
        throw new Error(`begin-connect answered ${result.status}`);
    }
  }

  markHandover(ip: string, ownerConnectionId: string): Promise<boolean> {
    return scripts.markHandover.run(this.client, [this.keys.server(ip)], [ownerConnectionId]);
  }

  async queryLobby(query: LobbyQuery, bounds: LobbyBounds): Promise<ServerRegistration[]> {
    const byDate = query.sortBy === "date";
    const registrations = await scripts.lobby.run(
      this.client,
      [this.keys.serversByDate],
      [
        this.keys.byData1Prefix,
        this.keys.serverPrefix,
        byDate && query.sortDirection === "ASC" ? "1" : "0",
        query.limit ?? -1,
        bounds.scanLimit,
        bounds.replyMaxBytes ?? -1,
        LOBBY_ENTRY_OVERHEAD_BYTES,
        byDate ? 0 : Number(query.sortBy.slice(4)),
        query.sortDirection === "ASC" ? "1" : "0",
        ...DATA_FIELD_NAMES.map((_, i) => query.filters[i] ?? ""),
        bounds.replyMaxBytes === null ? -1 : largestEntryBytes(bounds.replyMaxBytes),
      ],
    );
    // The script already ordered and bounded them; the same rules as the memory store, exactly.
    registrations.sort(compareForLobby(query));
    const limited = query.limit === null ? registrations : registrations.slice(0, query.limit);
    return withinBytes(limited, bounds.replyMaxBytes);
  }

  async countServers(): Promise<number> {
    return this.client.zcard(this.keys.serversByDate);
  }

  async refreshOwned(owned: readonly OwnedRef[]): Promise<RefreshResult[]> {
    // Run even with nothing owned: the script also prunes dead nodes' leases.
    const outcomes = await this.inBatches(owned, true, scripts.refreshOwned, (ref) => [
      ref.ip,
      ref.ownerConnectionId,
    ]);
    return outcomes.map(({ outcome, udpPort }) =>
      outcome === "kept" ? { outcome, udpPort } : { outcome },
    );
  }

  async restoreOwned(registrations: readonly ServerRegistration[]): Promise<RestoreResult[]> {
    const outcomes = await this.inBatches(registrations, false, scripts.restoreOwned, (r) => [
      r.ip,
      r.ownerConnectionId,
      r.ownerNodeId,
      r.udpPort ?? "",
      r.version,
      r.createdTimeSec,
      ...DATA_FIELD_NAMES.map((_, i) => r.data[i] ?? ""),
    ]);
    return outcomes.map(({ outcome, udpPort }) =>
      outcome === "restored" ? { outcome, udpPort } : { outcome },
    );
  }

  /** Runs a lease script over `items` in batches (each one script, one round trip), in order. */
  private async inBatches<T, R>(
    items: readonly T[],
    evenIfEmpty: boolean,
    script: RedisScript<R[]>,
    argsOf: (item: T) => RedisArgument[],
  ): Promise<R[]> {
    const results: R[] = [];
    for (
      let offset = 0;
      offset < items.length || (evenIfEmpty && offset === 0);
      offset += OWNED_BATCH
    ) {
      const batch = items.slice(offset, offset + OWNED_BATCH);
      const reply = await script.run(
        this.client,
        [this.keys.serversByDate, this.keys.leases],
        [
          this.options.leaseMs,
          this.keyTtlMs,
          this.keys.byData1Prefix,
          this.keys.serverPrefix,
          ...batch.flatMap(argsOf),
        ],
      );
      results.push(...reply);
    }
    return results;
  }

  async close(): Promise<void> {
    this.wakeups.clear();
  }
}
