/**
 * The NAT lab, assembled: one object that builds the namespaces (harness/
 * topology.ts), owns their firewall (harness/rules.ts) and the processes
 * started in them (harness/processes.ts), and tears all of it down on close,
 * on the runner's exit, or at the next run's sweep (harness/teardown.ts).
 * Commands run through harness/shell.ts. Tests import from here.
 */
import { type LabProcess, ProcessGroup, type SpawnOptions } from "./harness/processes.js";
import { LabRules, type NatConfig, type NatKind, natConfig } from "./harness/rules.js";
import { type ShResult, sh } from "./harness/shell.js";
import {
  destroyNetnsSync,
  destroyOnExit,
  forget,
  listNetns,
  PREFIX_RE,
  sweepStaleLabs,
} from "./harness/teardown.js";
import { buildTopology, type LabNamespaces, namespaceNames } from "./harness/topology.js";

export {
  type ExitInfo,
  type JsonLine,
  LabProcess,
  rpc,
} from "./harness/processes.js";
export {
  type Flow,
  type FlowsOnRemoval,
  type NatConfig,
  type NatKind,
  parseConntrack,
  type Release,
  type Site,
} from "./harness/rules.js";
export type { ShResult } from "./harness/shell.js";
export { type LabAvailability, labAvailability, sweepStaleLabs } from "./harness/teardown.js";
export { ADDR, type GameSite, MASTER_PORT } from "./harness/topology.js";

export interface LabOptions {
  natA?: NatKind | NatConfig;
  natB?: NatKind | NatConfig;
  /** defaults to `gml<pid>` */
  prefix?: string;
  log?: (msg: string) => void;
}

export class NetLab {
  readonly prefix: string;
  readonly ns: LabNamespaces;
  readonly rules: LabRules;
  private readonly processes = new ProcessGroup();
  private readonly created: string[] = [];
  private closed = false;

  private constructor(
    prefix: string,
    private readonly log: (msg: string) => void,
  ) {
    this.prefix = prefix;
    this.ns = namespaceNames(prefix);
    this.rules = new LabRules(this.ns);
  }

  static async create(opts: LabOptions = {}): Promise<NetLab> {
    sweepStaleLabs();
    const lab = new NetLab(opts.prefix ?? `gml${process.pid}`, opts.log ?? (() => {}));
    if (!PREFIX_RE.test(`${lab.prefix}-x`))
      throw new Error(`lab prefix must look like gml<pid>: ${lab.prefix}`);
    destroyOnExit(lab);
    try {
      const t0 = Date.now();
      await buildTopology(lab.ns, (ns) => lab.created.push(ns));
      await lab.rules.setLbBackends([...lab.rules.lbBackends.tcp]);
      await lab.rules.setNat("A", natConfig(opts.natA));
      await lab.rules.setNat("B", natConfig(opts.natB));
      lab.log(`lab ${lab.prefix} up in ${Date.now() - t0} ms`);
    } catch (e) {
      await lab.close();
      throw e;
    }
    return lab;
  }

  /** Processes started in this lab and still running. */
  get procs(): ReadonlySet<LabProcess> {
    return this.processes.procs;
  }

  /** Run a command inside a namespace and wait for it. */
  sh(ns: string, argv: string[]): Promise<ShResult> {
    return sh(ns, argv);
  }

  /** Start a long-lived process in a namespace. stdout is parsed as JSON lines. */
  spawn(ns: string, name: string, argv: string[], opts: SpawnOptions = {}): LabProcess {
    return this.processes.spawn(ns, name, argv, opts);
  }

  /** Start a Node script in a namespace (same node binary as the test runner). */
  node(
    ns: string,
    name: string,
    script: string,
    args: string[] = [],
    opts: SpawnOptions = {},
  ): LabProcess {
    return this.processes.node(ns, name, script, args, opts);
  }

  /** Stop everything we started and delete every namespace we created. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.processes.stopAll(1500);
    this.destroySync();
  }

  /** Synchronous teardown (also used from the process 'exit' handler). */
  destroySync(): void {
    this.closed = true;
    this.processes.killAllSync();
    for (const ns of this.created.splice(0).reverse()) destroyNetnsSync(ns);
    // anything with our prefix that we lost track of
    for (const ns of listNetns()) if (ns.startsWith(`${this.prefix}-`)) destroyNetnsSync(ns);
    forget(this);
  }
}
