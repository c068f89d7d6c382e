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

export async function spawnNode(options: {
  nodeId: string;
  host: string;
  env: Record<string, string>;
}): Promise<NodeProcess> {
  const port = await freeTcpPort(options.host);
  const httpPort = await freeTcpPort(options.host);
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
  const node: NodeProcess = {
    nodeId: options.nodeId,
    host: options.host,
    port,
    httpPort,
    child,
    logs,
    exited,
    kill: (signal) => child.kill(signal),
  };
  await waitFor(
    async () => {
      if (child.exitCode !== null)
        throw new Error(`node ${options.nodeId} exited with ${child.exitCode}`);
      try {
        const response = await fetch(`http://${options.host}:${httpPort}/readyz`);
        return response.status === 200;
      } catch {
        return false;
      }
    },
    15_000,
    `node ${options.nodeId} ready`,
  );
  return node;
}
