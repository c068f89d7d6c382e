#!/usr/bin/env node
// Command-line entry: parse configuration, start one master node, drain on SIGTERM/SIGINT.
import { ConfigError, helpText, loadConfig } from "./config/index.js";
import { StartupError } from "./errors.js";
import { createLogger } from "./logging.js";
import { MasterNode } from "./master-node.js";
import { runProbe } from "./probe.js";
import { MASTER_VERSION } from "./version.js";

const PROBE_HELP = `Usage: gmnet-master probe --master <host:port> [--timeout-ms 5000] [--public-ip <ip>]

Registers a probe game server and connects a probe client through the master,
from this machine, and prints the public endpoints the master recorded. If they
show a load balancer's address instead of this machine's, the deployment does
not keep source addresses and punching will fail. Exit code 0 when the master
mediated, 1 otherwise.`;

async function probe(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${PROBE_HELP}\n`);
    return 0;
  }
  const value = (flag: string) => {
    const index = argv.indexOf(flag);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const master = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(value("--master") ?? "");
  const timeoutMs = Number(value("--timeout-ms") ?? 5000);
  if (!master || !Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    process.stderr.write(
      `gmnet-master probe: --master host:port is required (and --timeout-ms a positive whole number)\n\n${PROBE_HELP}\n`,
    );
    return 2;
  }
  const report = await runProbe({
    masterHost: master[1] as string,
    masterPort: Number(master[2]),
    timeoutMs,
    publicIp: value("--public-ip"),
  });
  for (const line of report.lines) process.stdout.write(`${line}\n`);
  return report.ok ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "probe") return probe(argv.slice(1));
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(
      `${helpText()}\n\nSubcommand: gmnet-master probe --master <host:port>  (see gmnet-master probe --help)\n`,
    );
    return 0;
  }
  if (argv.includes("--version")) {
    process.stdout.write(`${MASTER_VERSION}\n`);
    return 0;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ argv, env: process.env });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(
        `gmnet-master: ${error.message}\nRun gmnet-master --help for the options.\n`,
      );
      return 2;
    }
    throw error;
  }
  const logger = createLogger(config.logLevel, process.stdout.isTTY === true);
  let node: MasterNode;
  try {
    node = await MasterNode.start(config, logger);
  } catch (error) {
    // A misconfiguration found at start (Redis refused the credentials): one line, exit 2.
    if (error instanceof StartupError) {
      process.stderr.write(`gmnet-master: ${error.message}\n`);
      return 2;
    }
    logger.fatal({ err: error }, "could not start");
    return 1;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "stopping");
    node.drain().then(
      () => process.exit(0),
      (error: Error) => {
        logger.error({ err: error }, "drain failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  return -1; // keep running
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: Error) => {
    process.stderr.write(`gmnet-master: ${error.stack ?? error.message}\n`);
    process.exitCode = 1;
  },
);
