// Long-lived processes inside the lab's namespaces (masters, Redis, agents):
// started with `ip netns exec`, their stdout read as JSON lines, waited on by
// predicate (never by sleeping), talked to by request/response over stdin.
import { type ChildProcess, spawn } from "node:child_process";

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type JsonLine = Record<string, unknown>;

/** A long-lived process started with `ip netns exec NS ...` (same pid: ip execs the command). */
export class LabProcess {
  readonly lines: JsonLine[] = [];
  readonly rawOut: string[] = [];
  stderr = "";
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
  private waiters: Array<{
    pred: (l: JsonLine) => boolean;
    resolve: (l: JsonLine) => void;
    from: number;
  }> = [];
  private exitWaiters: Array<(e: Error) => void> = [];
  private buf = "";

  constructor(
    readonly name: string,
    readonly ns: string,
    readonly child: ChildProcess,
  ) {
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (d: string) => this.onData(d));
    child.stderr?.on("data", (d: string) => {
      this.stderr += d;
      if (this.stderr.length > 200_000) this.stderr = this.stderr.slice(-100_000);
    });
    child.stdin?.on("error", () => {});
    this.exited = new Promise((resolve) => {
      // 'close' (not 'exit'): stdout/stderr are drained by then
      child.on("close", (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
        const err = new Error(
          `${this.name} exited (code ${code}, signal ${signal}) while waiting; last stdout:\n${this.rawOut.slice(-10).join("\n")}\nstderr tail:\n${this.stderr.slice(-2000)}`,
        );
        for (const w of this.exitWaiters.splice(0)) w(err);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  private onData(d: string): void {
    this.buf += d;
    let i = this.buf.indexOf("\n");
    while (i >= 0) {
      const line = this.buf.slice(0, i).trim();
      this.buf = this.buf.slice(i + 1);
      if (line) this.onLine(line);
      i = this.buf.indexOf("\n");
    }
  }

  private onLine(line: string): void {
    this.rawOut.push(line);
    if (this.rawOut.length > 5000) this.rawOut.splice(0, 1000);
    let obj: JsonLine;
    try {
      const v = JSON.parse(line);
      obj = v && typeof v === "object" && !Array.isArray(v) ? (v as JsonLine) : { value: v };
    } catch {
      obj = { raw: line };
    }
    this.lines.push(obj);
    const idx = this.lines.length - 1;
    this.waiters = this.waiters.filter((w) => {
      if (idx >= w.from && w.pred(obj)) {
        w.resolve(obj);
        return false;
      }
      return true;
    });
  }

  /** First line (already seen or future) matching pred. */
  waitFor(pred: (l: JsonLine) => boolean, timeoutMs = 10_000, what = "line"): Promise<JsonLine> {
    return this.waitFrom(0, pred, timeoutMs, what);
  }

  /** First line printed after this call matching pred. */
  next(pred: (l: JsonLine) => boolean, timeoutMs = 10_000, what = "line"): Promise<JsonLine> {
    return this.waitFrom(this.lines.length, pred, timeoutMs, what);
  }

  /** Lines seen from index `from` on (use `mark()` to get an index). */
  waitFrom(
    from: number,
    pred: (l: JsonLine) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<JsonLine> {
    for (let i = from; i < this.lines.length; i++) {
      const l = this.lines[i] as JsonLine;
      if (pred(l)) return Promise.resolve(l);
    }
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        from,
        resolve: (l: JsonLine) => {
          clearTimeout(t);
          this.exitWaiters = this.exitWaiters.filter((x) => x !== onExit);
          resolve(l);
        },
      };
      const onExit = (e: Error) => {
        clearTimeout(t);
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(e);
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        this.exitWaiters = this.exitWaiters.filter((x) => x !== onExit);
        reject(
          new Error(
            `timeout after ${timeoutMs} ms waiting for ${what} from ${this.name}; last lines:\n${this.rawOut.slice(-15).join("\n")}\nstderr tail:\n${this.stderr.slice(-1500)}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(w);
      if (!this.alive)
        onExit(new Error(`${this.name} is not running; stderr tail:\n${this.stderr.slice(-2000)}`));
      else this.exitWaiters.push(onExit);
    });
  }

  mark(): number {
    return this.lines.length;
  }

  /** Lines printed from index `from` on that match pred. */
  linesFrom(from: number, pred: (l: JsonLine) => boolean = () => true): JsonLine[] {
    return this.lines.slice(from).filter(pred);
  }

  /** Write one JSON line to stdin. */
  send(obj: unknown): void {
    this.child.stdin?.write(`${JSON.stringify(obj)}\n`);
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    if (!this.alive || this.pid < 0) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      /* gone */
    }
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs = 2000): Promise<ExitInfo> {
    if (!this.alive) return this.exitInfo as ExitInfo;
    this.kill("SIGTERM");
    const t = setTimeout(() => this.kill("SIGKILL"), graceMs);
    const e = await this.exited;
    clearTimeout(t);
    return e;
  }
}

let rpcSeq = 0;

/** Request/response over a LabProcess speaking `{id, ...}` JSON lines (agents/peer.mjs). */
export async function rpc(
  p: LabProcess,
  cmd: Record<string, unknown>,
  timeoutMs = 10_000,
): Promise<JsonLine> {
  const id = `r${++rpcSeq}`;
  const wait = p.next((l) => l.id === id, timeoutMs, `reply to ${String(cmd.op)}`);
  p.send({ ...cmd, id });
  const r = await wait;
  if (r.error) throw new Error(`${p.name}: ${String(cmd.op)} failed: ${String(r.error)}`);
  return r;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
}

/** The processes one lab started: spawned into its namespaces, all stopped with it. */
export class ProcessGroup {
  readonly procs = new Set<LabProcess>();
  private closed = false;

  /** Start a long-lived process in a namespace. stdout is parsed as JSON lines. */
  spawn(ns: string, name: string, argv: string[], opts: SpawnOptions = {}): LabProcess {
    if (this.closed) throw new Error("lab is closed");
    const child = spawn("ip", ["netns", "exec", ns, ...argv], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const p = new LabProcess(name, ns, child);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** Start a Node script in a namespace (same node binary as the test runner). */
  node(ns: string, name: string, script: string, args: string[] = [], opts: SpawnOptions = {}) {
    return this.spawn(ns, name, [process.execPath, script, ...args], opts);
  }

  /** SIGTERM every process, SIGKILL those still there after the grace. */
  async stopAll(graceMs: number): Promise<void> {
    this.closed = true;
    await Promise.all([...this.procs].map((p) => p.stop(graceMs)));
  }

  /** Synchronous last resort (the process 'exit' handler). */
  killAllSync(): void {
    this.closed = true;
    for (const p of this.procs) p.kill("SIGKILL");
  }
}
