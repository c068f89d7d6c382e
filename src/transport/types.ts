// What the transport hands the master logic, and what it needs back from it.
import type { ConnectionRole } from "../metrics.js";
import type { TcpCommand, UdpCommand } from "../protocol/index.js";

export type { ConnectionRole };

/** One game TCP connection as the master logic sees it. */
export interface GameConnection {
  /** Unique across the cluster and across restarts: `<random boot id>.<sequence>`. */
  readonly id: string;
  /** Canonical public IP of the peer (after PROXY protocol, if on). */
  readonly remoteIp: string;
  readonly remotePort: number;
  readonly role: ConnectionRole;
  /** Says what the connection turned out to be (moves it between gmnet_tcp_connections' roles). */
  assignRole(role: ConnectionRole): void;
  readonly closed: boolean;
  /** Replies waiting in this socket's pacer (a game server's -1 backlog). */
  readonly pendingReplies: number;
  /**
   * Queues one reply; replies to one socket are paced so a game reads each
   * alone. False when it was not queued (closed, or too many already wait).
   */
  send(reply: Buffer): boolean;
  /** Sends nothing more; closes once queued replies are written. */
  endAfterReplies(): void;
  /** Closes at once, logging why. */
  close(reason: string): void;
  /** Closes with an RST: the peer's next write fails at once (a GML server then re-registers). */
  reset(reason: string): void;
  /** Resolves once every reply queued so far has been written. */
  repliesWritten(): Promise<void>;
  /** Keeps the socket past the idle timeout (registered servers live as long as they like). */
  keepAlive(): void;
}

/** The master logic, called by the transport for every decoded command. */
export interface CommandHandler {
  /**
   * Handles one command; a returned promise makes the connection wait for it
   * (one command at a time per connection: a pipelining client gets no more
   * than a game does).
   */
  onTcpCommand(connection: GameConnection, command: TcpCommand): Promise<void> | void;
  onTcpClosed(connection: GameConnection): void;
  onUdpCommand(ip: string, port: number, command: UdpCommand): void;
}
