// The attacker child process, seen from the scenario: spawn, wait for the
// attacks to start, collect the report (and the process's CPU time).
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { procCpuSeconds, procRssBytes } from "../lib/procs.js";
import type { AbuseConfig, AbuseReport } from "./attacks.js";

const ENTRY = fileURLToPath(new URL("./attacker-process.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export class AttackerProcess {
  private cpuSec = 0;
  /** /proc is gone once it exits: its CPU time is read while it runs. */
  private readonly cpuTimer: NodeJS.Timeout;

  private constructor(
    private readonly child: ChildProcess,
    private readonly report: Promise<AbuseReport>,
  ) {
    this.cpuTimer = setInterval(() => this.cpuSeconds(), 250);
  }

  /** Resolves once the attacker registered its padded servers and started every attack. */
  static async spawn(config: AbuseConfig): Promise<AttackerProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", ENTRY, JSON.stringify(config)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buffered = "";
    let onStarted: (() => void) | null = null;
    let onReport: ((report: AbuseReport) => void) | null = null;
    const started = new Promise<void>((resolve) => {
      onStarted = resolve;
    });
    const report = new Promise<AbuseReport>((resolve, reject) => {
      onReport = resolve;
      child.once("exit", (code) => reject(new Error(`attacker exited (${code}) without a report`)));
    });
    report.catch(() => undefined); // observed by done(); an early exit also fails spawn()
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let at = buffered.indexOf("\n"); at >= 0; at = buffered.indexOf("\n")) {
        const line = buffered.slice(0, at);
        buffered = buffered.slice(at + 1);
        const message = JSON.parse(line) as { event: string; report?: AbuseReport };
        if (message.event === "started") onStarted?.();
        if (message.event === "report" && message.report) onReport?.(message.report);
      }
    });
    const attacker = new AttackerProcess(child, report);
    await Promise.race([started, report.then(() => undefined)]);
    return attacker;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  rssBytes(): number {
    return procRssBytes(this.pid);
  }

  /** CPU seconds the attacker used (the last reading while it ran, 250 ms apart). */
  cpuSeconds(): number {
    const now = this.child.exitCode === null ? procCpuSeconds(this.pid) : 0;
    if (now > 0) this.cpuSec = now;
    return this.cpuSec;
  }

  /** Waits for the attacks' own end (their configured seconds) and the report. */
  async done(): Promise<AbuseReport> {
    try {
      return await this.report;
    } finally {
      clearInterval(this.cpuTimer);
    }
  }

  kill(): void {
    clearInterval(this.cpuTimer);
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}
