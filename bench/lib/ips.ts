// Source addresses in 127.0.0.0/8 (all local on Linux): each simulated game
// server and client gets its own "public IP", since the master keys servers
// and client UDP endpoints by IP. Ranges are disjoint per role.
export type IpRole =
  | "server"
  | "client"
  | "lobby"
  | "fuzz"
  | "idle"
  | "probe"
  | "flood"
  | "attacker"
  | "padded";

const SECOND_OCTET: Record<IpRole, number> = {
  server: 20, // 127.20-59.x.y: up to 40 × 64516 servers
  flood: 60, // 127.60-99.x.y: a spoofed UDP flood, each datagram from a new address
  client: 100, // 127.100-139.x.y
  lobby: 150,
  fuzz: 160, // 127.160-199.x.y
  idle: 210,
  attacker: 220, // a few abusive TCP sources (abuse scenario)
  padded: 230, // lobby servers registered by an attacker (abuse scenario)
  probe: 240, // confirming registrations on a master without an admin API
};

/** The role an address was handed out for (null: none of ours). */
export function roleOf(ip: string): IpRole | null {
  const octet = Number(ip.split(".")[1]);
  let best: IpRole | null = null;
  for (const [role, first] of Object.entries(SECOND_OCTET) as Array<[IpRole, number]>) {
    if (octet >= first && (best === null || first > SECOND_OCTET[best])) best = role;
  }
  return ip.startsWith("127.") ? best : null;
}

/** The n-th address of a role; x.y never 0 or 255 (1..254 each: 64516 per second octet). */
export function ipFor(role: IpRole, n: number): string {
  const perBlock = 254 * 254;
  const block = Math.floor(n / perBlock);
  const rest = n % perBlock;
  const third = Math.floor(rest / 254) + 1;
  const fourth = (rest % 254) + 1;
  return `127.${SECOND_OCTET[role] + block}.${third}.${fourth}`;
}
