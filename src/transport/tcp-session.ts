// One game TCP connection: PROXY header (optional), incremental decoding,
// paced replies, idle timeout. Knows the codec and the CommandHandler, never
// the store.
import type { Socket } from "node:net";
import type { Logger } from "pino";
import type { IpFormatter } from "../logging.js";
import type { MasterMetrics } from "../metrics.js";
import {
  type DecodeErrorCode,
  normalizeIp,
  type TcpCommand,
  TcpCommandDecoder,
} from "../protocol/index.js";
import type { BadInputReason } from "../bad-input.js";
import type { BadInputLog } from "../bad-input-log.js";
import type { IdleDeadlines } from "./idle-deadlines.js";
import { MAX_PROXY_HEADER_BYTES, parseProxyHeader, type ProxyVersions } from "./proxy-protocol.js";
import { ReplyPacer } from "./reply-pacer.js";
import type { CommandHandler, ConnectionRole, GameConnection } from "./types.js";

/** Commands decoded but not yet handled; a game never sends more than a couple at once. */
const MAX_QUEUED_COMMANDS = 16;

export interface TcpSessionOptions {
  replyGapMs: number;
  idleTimeoutMs: number;
  maxLineBytes: number;
  /** Replies that may wait in one socket's pacer (a game server's -1 backlog). */
  maxQueuedReplies: number;
  /** Unread reply bytes past which the peer is a slow reader: closed, buffers released. */
  maxBufferedBytesPerSocket: number;
  /** Which PROXY header every connection starts with; null: none (the socket's address is the game's). */
  proxyProtocol: ProxyVersions | null;
}

export interface TcpSessionContext {
  handler: CommandHandler;
  metrics: MasterMetrics;
  logger: Logger;
  formatIp: IpFormatter;
  badInput: BadInputLog;
  /** Told each connection's source address once its first command arrives (after any PROXY header). */
  observeSource: (ip: string) => void;
  /** With PROXY protocol: counts the game's real address against its source's cap (its key, or null: refused). */
  admitProxiedSource: (ip: string) => string | null;
  releaseProxiedSource: (key: string) => void;
  /** The listener's idle timeouts, shared by its sessions. */
  idle: IdleDeadlines<TcpSession>;
  /** The listener's lifetimes of sockets that are not registered servers. */
  lifetimes: IdleDeadlines<TcpSession>;
}

export class TcpSession implements GameConnection {
  remoteIp: string;
  remotePort: number;
  private currentRole: ConnectionRole = "unknown";
  private isClosed = false;
  private ending = false;
  private readonly decoder: TcpCommandDecoder;
  private readonly pacer: ReplyPacer;
  private proxyHeaderPending: Buffer | null;
  private childLogger: Logger | null = null;
  private sourceObserved = false;
  private queuedCommands: TcpCommand[] | null = null;
  private commandInFlight = false;
  /** A command other than a stray `ping` ran since the idle timer was last armed. */
  private activeSinceIdleArmed = false;
  /** The source key counted against its cap (PROXY protocol only). */
  private admittedProxiedSource: string | null = null;
  /** Its lifetime ended while a command was in flight: closed once that command is answered. */
  private expired = false;
  /** Set once the transport saw the socket open, so close() can report it once. */
  onClosed: (() => void) | null = null;

  constructor(
    readonly id: string,
    private readonly socket: Socket,
    /** The socket's peer address, already canonical (the listener normalised it to admit it). */
    peerIp: string,
    private readonly options: TcpSessionOptions,
    private readonly context: TcpSessionContext,
  ) {
    this.remoteIp = peerIp;
    this.remotePort = socket.remotePort ?? 0;
    this.decoder = new TcpCommandDecoder({ maxLineBytes: options.maxLineBytes });
    this.pacer = new ReplyPacer(
      { write: (reply) => this.write(reply) },
      options.replyGapMs,
      options.maxQueuedReplies,
    );
    this.proxyHeaderPending = options.proxyProtocol !== null ? Buffer.alloc(0) : null;
    context.metrics.countConnection("unknown", 1);

    // Nagle is off already: the server was created with noDelay.
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error) => this.logger.debug({ err: error }, "socket error"));
    socket.on("close", () => this.finish());
    this.armIdleTimer();
    context.lifetimes.arm(this);
  }

  get role(): ConnectionRole {
    return this.currentRole;
  }

  assignRole(role: ConnectionRole): void {
    if (role === this.currentRole) return;
    if (!this.isClosed) {
      this.context.metrics.countConnection(this.currentRole, -1);
      this.context.metrics.countConnection(role, 1);
    }
    this.currentRole = role;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get pendingReplies(): number {
    return this.pacer.pending;
  }

  send(reply: Buffer): boolean {
    if (this.isClosed || this.ending) return false;
    return this.pacer.send(reply);
  }

  endAfterReplies(): void {
    if (this.isClosed || this.ending) return;
    this.ending = true;
    this.pacer.onDrained(() => this.socket.end());
  }

  close(reason: string): void {
    if (this.isClosed) return;
    this.logger.debug({ reason }, "closing connection");
    this.socket.destroy();
    this.finish();
  }

  reset(reason: string): void {
    if (this.isClosed) return;
    this.logger.debug({ reason }, "resetting connection");
    this.socket.resetAndDestroy();
    this.finish();
  }

  keepAlive(): void {
    this.clearIdleTimer();
    this.context.lifetimes.disarm(this); // a registered server stays for hours
    this.expired = false;
    this.socket.setKeepAlive(true, 30_000); // detects half-open server sockets eventually
  }

  /** Built on first use: most connections never log, and a child costs memory per socket. */
  private get logger(): Logger {
    this.childLogger ??= this.context.logger.child({
      conn: this.id,
      peer: this.context.formatIp(this.remoteIp),
    });
    return this.childLogger;
  }

  /** Resolves once every queued reply has been written (at once if none is queued). */
  repliesWritten(): Promise<void> {
    return new Promise((resolve) => this.pacer.onDrained(resolve));
  }

  private onData(chunk: Buffer): void {
    if (this.isClosed) return;
    let bytes = chunk;
    if (this.proxyHeaderPending) {
      const header = Buffer.concat([this.proxyHeaderPending, chunk]);
      const parsed = parseProxyHeader(header, this.options.proxyProtocol ?? "on");
      if (parsed.status === "need-more") {
        if (header.length > MAX_PROXY_HEADER_BYTES)
          return this.reject("proxy_header", "PROXY header too long");
        this.proxyHeaderPending = header;
        return;
      }
      if (parsed.status === "error") return this.reject("proxy_header", parsed.message);
      this.proxyHeaderPending = null;
      if (parsed.source) {
        this.remoteIp = normalizeIp(parsed.source.ip) ?? this.remoteIp;
        this.remotePort = parsed.source.port;
      }
      this.admittedProxiedSource = this.context.admitProxiedSource(this.remoteIp);
      if (this.admittedProxiedSource === null)
        return this.reject("too_many_connections", "too many connections from one source");
      bytes = header.subarray(parsed.headerBytes);
    }
    for (const result of this.decoder.push(bytes)) {
      if (!result.ok) {
        this.context.metrics.tcpCommands.inc({ command: "invalid", result: result.error.code });
        return this.reject(tcpDecodeReason(result.error.code), result.error.message);
      }
      this.context.metrics.countTcpCommandOk(result.command.kind);
      if (!this.sourceObserved) {
        this.sourceObserved = true;
        this.context.observeSource(this.remoteIp);
      }
      this.queuedCommands ??= [];
      this.queuedCommands.push(result.command);
      if (this.queuedCommands.length > MAX_QUEUED_COMMANDS) {
        return this.reject("command_flood", `more than ${MAX_QUEUED_COMMANDS} commands queued`);
      }
    }
    // Only a completed command counts as activity: bytes alone (NULs, blank lines,
    // half a line) must not keep a connection past its idle timeout.
    if (this.queuedCommands !== null && this.queuedCommands.length > 0) this.pump();
  }

  /**
   * Runs queued commands one at a time. While one is in flight (or, off a
   * server socket, while its reply is still paced out) the socket is paused
   * and the idle timer stopped, so a slow store never closes a waiting client
   * unanswered and a pipelining client cannot multiply work.
   */
  private pump(): void {
    const queue = this.queuedCommands;
    while (!this.isClosed && !this.commandInFlight && queue !== null && queue.length > 0) {
      if (this.ending) {
        queue.length = 0; // nothing is answered after a final reply
        break;
      }
      if (this.role !== "server" && this.pacer.pending > 0) {
        this.hold(() => new Promise<void>((resolve) => this.pacer.onDrained(resolve)));
        return;
      }
      const command = queue.shift() as TcpCommand;
      // Only a registered server's ping keeps its socket: on any other socket it is
      // not activity (else one `ping` a while would hold a socket forever).
      if (command.kind !== "ping" || this.role === "server") this.activeSinceIdleArmed = true;
      const work = this.context.handler.onTcpCommand(this, command);
      if (work) this.hold(() => work);
    }
    // Re-armed after activity, or when a held command left it disarmed; a stray
    // ping leaves a running timer running.
    if (
      (this.activeSinceIdleArmed || !this.context.idle.isArmed(this)) &&
      !this.isClosed &&
      !this.commandInFlight &&
      this.role !== "server"
    ) {
      this.armIdleTimer();
    }
  }

  private hold(wait: () => Promise<void>): void {
    this.commandInFlight = true;
    this.clearIdleTimer();
    this.socket.pause();
    const resume = () => {
      this.commandInFlight = false;
      if (this.isClosed) return;
      if (this.expired) {
        // Answered, then closed: nothing queued behind it runs.
        this.ending = true;
        this.pacer.onDrained(() => this.close("socket lifetime"));
        return;
      }
      this.socket.resume();
      this.pump();
    };
    wait().then(resume, resume);
  }

  /** One write per reply; a peer that leaves too much unread is closed and its buffers freed. */
  private write(reply: Buffer): void {
    this.socket.write(reply);
    if (this.socket.writableLength > this.options.maxBufferedBytesPerSocket) {
      this.reject(
        "slow_reader",
        `more than ${this.options.maxBufferedBytesPerSocket} reply bytes unread`,
      );
    }
  }

  private reject(reason: BadInputReason, message: string): void {
    this.context.badInput.report(
      reason,
      `closing connection on bad input: ${message}`,
      {},
      this.logger,
    );
    this.close(reason);
  }

  private armIdleTimer(): void {
    this.activeSinceIdleArmed = false;
    this.context.idle.arm(this);
  }

  private clearIdleTimer(): void {
    this.context.idle.disarm(this);
  }

  /** Called by the listener's idle sweep. */
  closeIdle(): void {
    this.context.metrics.badInput.inc({ reason: "idle_timeout" });
    this.close("idle timeout");
  }

  /** Called by the listener's lifetime sweep (never for a registered server's socket). */
  closeExpired(): void {
    this.context.badInput.report(
      "socket_lifetime",
      "closing a connection open longer than any game needs",
      {},
      this.logger,
    );
    // A command in flight is answered first (a connect may be waiting for its UDP).
    if (this.commandInFlight) this.expired = true;
    else this.close("socket lifetime");
  }

  private finish(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.clearIdleTimer();
    this.context.lifetimes.disarm(this);
    this.pacer.stop();
    this.context.metrics.countConnection(this.currentRole, -1);
    if (this.admittedProxiedSource !== null)
      this.context.releaseProxiedSource(this.admittedProxiedSource);
    this.socket.destroy();
    this.onClosed?.();
    this.context.handler.onTcpClosed(this);
  }
}

function tcpDecodeReason(code: DecodeErrorCode): BadInputReason {
  switch (code) {
    case "line_too_long":
      return "line_too_long";
    case "bad_argument":
      return "bad_argument";
    default:
      return "unknown_command";
  }
}
