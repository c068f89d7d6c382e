#!/usr/bin/env node
// Command-line entry: parse configuration, start one master node, drain on SIGTERM/SIGINT.
import { ConfigError, helpText, loadConfig } from "./config.js";
import { createLogger } from "./logging.js";
import { MasterNode } from "./master-node.js";
import { MASTER_VERSION } from "./version.js";

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${helpText()}\n`);
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
    logger.fatal({ err: (error as Error).message }, "could not start");
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
        logger.error({ err: error.message }, "drain failed");
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
