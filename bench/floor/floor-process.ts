// The floor master as a child process, spawned like the real node (same
// Node.js, same V8 flags, same raised fd limit, optional --cpu-prof) so the
// two differ only in their code. Compiled once with tsc to plain JS: running
// it through tsx would add a loader (and its memory) the real node lacks.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  allocSampling,
  BENCH_NODE_FLAGS,
  freePort,
  LOOPBACK,
  procCpuSeconds,
  procRssBytes,
  raisedFdLimitCommand,
} from "../lib/procs.js";

const TSCONFIG = fileURLToPath(new URL("./tsconfig.json", import.meta.url));
const COMPILED = fileURLToPath(new URL("../results/floor-dist/floor-master.js", import.meta.url));
const TSC = fileURLToPath(new URL("../../node_modules/.bin/tsc", import.meta.url));

let compiled = false;

/** Emits bench/results/floor-dist/floor-master.js (once per run of the benchmark). */
export function compileFloor(): string {
  if (!compiled) {
    execFileSync(TSC, ["-p", TSCONFIG], { stdio: "inherit" });
    compiled = true;
  }
  return COMPILED;
}

export class FloorProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly host: string,
    readonly port: number,
  ) {}

  static async spawn(options: {
    fdLimit: number;
    cpuProfileDir: string | null;
  }): Promise<FloorProcess> {
    const script = compileFloor();
    const port = await freePort();
    const sampling = allocSampling();
    const nodeArgs = [...BENCH_NODE_FLAGS, ...sampling.args];
    // Named, so it is told apart from the real node's CPU.<date>.<pid>... profile.
    if (options.cpuProfileDir)
      nodeArgs.push(
        "--cpu-prof",
        `--cpu-prof-dir=${options.cpuProfileDir}`,
        "--cpu-prof-name=floor-master.cpuprofile",
      );
    const child = spawn(
      "bash",
      raisedFdLimitCommand(options.fdLimit, [
        process.execPath,
        ...nodeArgs,
        script,
        "--host",
        LOOPBACK,
        "--port",
        String(port),
      ]),
      {
        env: { PATH: process.env.PATH ?? "", ...sampling.env },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    // Ready when it prints its one line; a crash before that rejects.
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (!out.includes("\n")) return;
        child.stdout?.off("data", onData);
        child.off("exit", onExit);
        if (out.startsWith("floor listening")) resolve();
        else reject(new Error(`floor master said: ${out.trim()}`));
      };
      const onExit = (code: number | null) =>
        reject(new Error(`floor master exited (${code}) before listening`));
      child.stdout?.on("data", onData);
      child.once("exit", onExit);
    });
    child.stdout?.resume();
    return new FloorProcess(child, LOOPBACK, port);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  cpuSeconds(): number {
    return procCpuSeconds(this.pid);
  }

  rssBytes(): number {
    return procRssBytes(this.pid);
  }

  /** SIGTERM: the floor exits normally, so a --cpu-prof profile is written. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
