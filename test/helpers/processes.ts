// Master nodes as child processes (dist/cli.js), for tests that SIGKILL or
// SIGTERM a node. The build runs once in test/global-setup.ts.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freeTcpPort, waitFor } from "./master.js";

const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

export interface NodeProcess {
  nodeId: string;
  host: string;
  port: number;
  httpPort: number;
  child: ChildProcess;
  /** Every log line (parsed pino JSON). */
  logs: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

/** Exit code of a node that could not bind its port (another process took it first). */
const LISTEN_REFUSED_EXIT = 2;

/**
 * Starts a node on free ports and waits until it is ready. A free port can be
 * taken by another process before the node binds it: the node then exits 2
 * naming the port, and it is started again on new ports (a few times).
 */
export async function spawnNode(options: {
  nodeId: string;
  host: string;
  env: Record<string, string>;
}): Promise<NodeProcess> {
  for (let attempt = 1; ; attempt++) {
    const node = startNode(
      options,
      await freeTcpPort(options.host),
      await freeTcpPort(options.host),
    );
    const ready = await untilReady(node);
    if (ready === "ready") return node;
    if (ready !== LISTEN_REFUSED_EXIT || attempt >= 3)
      throw new Error(`node ${options.nodeId} exited with ${ready}`);
  }
}

function startNode(
  options: { nodeId: string; host: string; env: Record<string, string> },
  port: number,
  httpPort: number,
): NodeProcess {
  const child = spawn(process.execPath, [CLI], {
    env: {
      PATH: process.env.PATH ?? "",
      GMNET_HOST: options.host,
      GMNET_PORT: String(port),
      GMNET_HTTP_HOST: options.host,
      GMNET_HTTP_PORT: String(httpPort),
      GMNET_NODE_ID: options.nodeId,
      LOG_LEVEL: "info",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const logs: Array<Record<string, unknown>> = [];
  let pending = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    pending += chunk.toString("utf8");
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line });
      }
    }
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  return {
    nodeId: options.nodeId,
    host: options.host,
    port,
    httpPort,
    child,
    logs,
    exited,
    kill: (signal) => child.kill(signal),
  };
}

/** "ready" once /readyz answers 200, or the node's exit code if it exits first. */
async function untilReady(node: NodeProcess): Promise<"ready" | number | null> {
  let exitCode: number | null | undefined;
  void node.exited.then((code) => {
    exitCode = code;
  });
  await waitFor(
    async () => {
      if (exitCode !== undefined) return true;
      try {
        const response = await fetch(`http://${node.host}:${node.httpPort}/readyz`);
        return response.status === 200;
      } catch {
        return false;
      }
    },
    15_000,
    `node ${node.nodeId} ready`,
  );
  return exitCode === undefined ? "ready" : exitCode;
}

/** Runs the CLI until it exits (or 20 s), returning its exit code and stderr. */
export async function runUntilExit(
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI], {
    env: { PATH: process.env.PATH ?? "", GMNET_HTTP_PORT: "0", LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearTimeout(timer);
  return { code, stderr };
}
