// The abuse scenario's attackers in a process of their own: their sockets and
// CPU stay apart from the load generator that times the real games (a shared
// event loop would put the attackers' work into the games' latencies).
// Usage: node --import tsx bench/abuse/attacker-process.ts '<AbuseConfig JSON>'.
// Prints one JSON line when the attacks start, one with the report at the end.
import { Abuse, type AbuseConfig } from "./attacks.js";

const config = JSON.parse(process.argv[2] ?? "{}") as AbuseConfig;
const abuse = new Abuse(config);
let finishing = false;

async function finish(): Promise<void> {
  if (finishing) return;
  finishing = true;
  const report = await abuse.stop();
  process.stdout.write(`${JSON.stringify({ event: "report", report })}\n`, () => process.exit(0));
}

await abuse.prepare();
process.stdout.write(`${JSON.stringify({ event: "started" })}\n`);
abuse.start();
setTimeout(() => void finish(), config.seconds * 1000);
process.once("SIGTERM", () => void finish());
