// Typed messages of the GMnet PUNCH / GATE.PUNCH master protocol.
// Pure data: nothing here knows about sockets, timers or storage.

/** Number of free-form lobby data fields a GATE.PUNCH server publishes. */
export const LOBBY_DATA_FIELDS = 8;

export type LobbySortKey =
  | "date"
  | "data1"
  | "data2"
  | "data3"
  | "data4"
  | "data5"
  | "data6"
  | "data7"
  | "data8";
export type LobbySortDirection = "ASC" | "DESC";

/** Every sort key `lobby2` (and the admin API) accepts: `date`, then each data field. */
export const LOBBY_SORT_KEYS: readonly LobbySortKey[] = [
  "date",
  ...Array.from({ length: LOBBY_DATA_FIELDS }, (_, i) => `data${i + 1}` as LobbySortKey),
];

/** A lobby query as sent by `udphp_downloadServerList`. */
export interface LobbyQuery {
  /** Eight filters; an empty string means "no filter" on that data field. */
  filters: string[];
  sortBy: LobbySortKey;
  sortDirection: LobbySortDirection;
  /** `null` means "all". */
  limit: number | null;
}

/** Commands a game (or tool) sends to the master over TCP. */
export type TcpCommand =
  | { kind: "reg" }
  | { kind: "reg2"; version: string; data: string[] }
  | { kind: "ping" }
  | { kind: "connect"; serverIp: string }
  | { kind: "lobby2"; query: LobbyQuery }
  | { kind: "version" }
  | { kind: "istesting" }
  | { kind: "testinginfos" };

export type TcpCommandKind = TcpCommand["kind"];

/** Commands a game sends to the master over UDP. */
export type UdpCommand = { kind: "reg" } | { kind: "connect" };
export type UdpCommandKind = UdpCommand["kind"];

/** Reply packet ids (first byte, signed 8-bit). */
export const ReplyId = {
  master: -1,
  masterNotFound: -2,
  masterLobby: -7,
  isTesting: -8,
  testingInfos: -9,
  version: -10,
} as const;

/** One entry of a `-7` lobby reply. */
export interface LobbyEntry {
  ip: string;
  data: string[];
  createdTimeSec: number;
}
