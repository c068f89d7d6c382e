// The one description of a server's Redis hash: short field names (every
// byte is paid per server), the order in which scripts read a registration
// back, and the decoder for that order. The Lua prelude is generated from
// these, so a field is named in exactly one place.
import { LOBBY_DATA_FIELDS } from "../../protocol/index.js";
import type { ServerRegistration } from "../types.js";

/** Field names by meaning. Empty data fields are not stored (a missing field reads as ""). */
export const SERVER_FIELDS = {
  udpPort: "u",
  version: "v",
  createdTimeSec: "c",
  ownerNodeId: "n",
  ownerConnectionId: "o",
  /** When the registration was made (ms, Redis clock): a late UDP `reg` binds within the window. */
  registeredAtMs: "r",
  /** "1" once the UDP port came from this registration's own UDP `reg`. */
  udpConfirmed: "f",
  /** When the server's last booked -1 goes out (ms, Redis clock): its owner's pacer, modelled. */
  replyClockMs: "q",
  /** "1" while the registration is being handed over to another node. */
  handingOver: "h",
} as const;

export const DATA_FIELD_NAMES: readonly string[] = Array.from(
  { length: LOBBY_DATA_FIELDS },
  (_, i) => `d${i + 1}`,
);

/** What scripts return for one registration, in this order (after its IP). */
export const SERVER_READ_FIELDS: readonly string[] = [
  SERVER_FIELDS.udpPort,
  SERVER_FIELDS.version,
  ...DATA_FIELD_NAMES,
  SERVER_FIELDS.createdTimeSec,
  SERVER_FIELDS.ownerNodeId,
  SERVER_FIELDS.ownerConnectionId,
];

type ReadValue = string | null | undefined;

/** A registration from SERVER_READ_FIELDS values; null when the hash did not exist. */
export function decodeServerRead(
  ip: string,
  values: readonly ReadValue[],
): ServerRegistration | null {
  const at = (field: string): ReadValue => values[SERVER_READ_FIELDS.indexOf(field)];
  const owner = at(SERVER_FIELDS.ownerConnectionId);
  if (owner === null || owner === undefined) return null;
  const udp = at(SERVER_FIELDS.udpPort);
  return {
    ip,
    udpPort: udp ? Number(udp) : null,
    version: at(SERVER_FIELDS.version) ?? "",
    data: DATA_FIELD_NAMES.map((field) => at(field) ?? ""),
    createdTimeSec: Number(at(SERVER_FIELDS.createdTimeSec) ?? 0),
    ownerNodeId: at(SERVER_FIELDS.ownerNodeId) ?? "",
    ownerConnectionId: owner,
  };
}

/** Decodes `count` registrations laid out as ip followed by its SERVER_READ_FIELDS values. */
export function decodeServerReads(flat: readonly ReadValue[]): ServerRegistration[] {
  const stride = 1 + SERVER_READ_FIELDS.length;
  const registrations: ServerRegistration[] = [];
  for (let i = 0; i + stride <= flat.length; i += stride) {
    const registration = decodeServerRead(String(flat[i]), flat.slice(i + 1, i + stride));
    if (registration) registrations.push(registration);
  }
  return registrations;
}

/** The Lua side of this description, prepended to every script. */
export function serverHashLua(): string {
  const names = Object.entries(SERVER_FIELDS)
    .map(([meaning, field]) => `${meaning} = '${field}'`)
    .join(", ");
  const list = (fields: readonly string[]) => fields.map((f) => `'${f}'`).join(", ");
  return [
    `local F = { ${names} }`,
    `local DATA = { ${list(DATA_FIELD_NAMES)} }`,
    `local READ = { ${list(SERVER_READ_FIELDS)} }`,
    "local READ_AT = {}",
    "for i, field in ipairs(READ) do READ_AT[field] = i end",
  ].join("\n");
}
