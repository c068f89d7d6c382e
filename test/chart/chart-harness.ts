// Shared by the chart suites: find helm (scripts/ensure-helm.mjs), render and
// lint the chart, validate rendered objects against the Kubernetes and
// prometheus-operator schemas, and find tools that CI must have.
//
// When CI is set, a missing tool is a failure, never a skip: requireTool()
// says which.

import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  PrometheusRule,
  ServiceMonitor,
} from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Pod, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { parseAllDocuments } from "yaml";

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are untyped YAML
export type Obj = Record<string, any>;

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const chartDir = path.join(root, "helm", "gmnet-master");
export const RELEASE = "gm";
export const NAMESPACE = "games";
export const FULLNAME = "gm-gmnet-master";
export { IN_CI } from "../helpers/prerequisites.js";

export interface Tool {
  bin: string | null;
  reason: string;
}

function findHelm(): Tool {
  const r = spawnSync(process.execPath, [path.join(root, "scripts", "ensure-helm.mjs")], {
    encoding: "utf8",
    timeout: 300_000,
  });
  const bin = r.status === 0 ? (r.stdout.trim().split("\n").pop() ?? "") : "";
  if (bin) return { bin, reason: "" };
  const reason = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split("\n").join("; ");
  return { bin: null, reason };
}

/** promtool from $PROMTOOL (what .ci/run extracts from Debian's prometheus package) or PATH. */
function findPromtool(): Tool {
  for (const bin of [process.env.PROMTOOL, "promtool"]) {
    if (!bin) continue;
    const r = spawnSync(bin, ["--version"], { encoding: "utf8", timeout: 20_000 });
    if (r.status === 0) return { bin, reason: "" };
  }
  return { bin: null, reason: "no promtool on PATH and PROMTOOL unset (.ci/run provides it)" };
}

export const helm = findHelm();
export const promtool = findPromtool();

export function run(
  bin: string,
  args: string[],
  timeout = 60_000,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(bin, args, { encoding: "utf8", timeout, maxBuffer: 32 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const runHelm = (args: string[]) => run(helm.bin as string, args);

export function parseManifests(text: string): Obj[] {
  const out: Obj[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0)
      throw new Error(`invalid YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
    const js = doc.toJS();
    if (js !== null && js !== undefined) out.push(js as Obj);
  }
  return out;
}

/** `helm template` of the chart with these arguments (values files, --set, --kube-version). */
export function render(args: string[] = []): Obj[] {
  const r = runHelm(["template", RELEASE, chartDir, "--namespace", NAMESPACE, ...args]);
  if (r.status !== 0) throw new Error(`helm template failed (${args.join(" ")}):\n${r.stderr}`);
  return parseManifests(r.stdout);
}

export function renderText(args: string[] = []): string {
  const r = runHelm(["template", RELEASE, chartDir, "--namespace", NAMESPACE, ...args]);
  if (r.status !== 0) throw new Error(`helm template failed (${args.join(" ")}):\n${r.stderr}`);
  return r.stdout;
}

/** stderr of a `helm template` that must fail. */
export function renderError(args: string[]): string {
  const r = runHelm(["template", RELEASE, chartDir, "--namespace", NAMESPACE, ...args]);
  if (r.status === 0) throw new Error(`helm template was expected to fail (${args.join(" ")})`);
  return r.stderr;
}

type ModelClass = new (data: Obj) => { validate(): void };
const MODELS: Record<string, ModelClass> = {
  "v1/Service": Service as unknown as ModelClass,
  "v1/Secret": Secret as unknown as ModelClass,
  "v1/ServiceAccount": ServiceAccount as unknown as ModelClass,
  "v1/Pod": Pod as unknown as ModelClass,
  "apps/v1/Deployment": Deployment as unknown as ModelClass,
  "apps/v1/StatefulSet": StatefulSet as unknown as ModelClass,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget as unknown as ModelClass,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler as unknown as ModelClass,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy as unknown as ModelClass,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor as unknown as ModelClass,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule as unknown as ModelClass,
};

export function validateObject(o: Obj): void {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!Model) throw new Error(`no schema for ${o.apiVersion}/${o.kind} (${o.metadata?.name})`);
  new Model(o).validate();
}

export const byKind = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);

export function one(objs: Obj[], kind: string, name?: string): Obj {
  const list = byKind(objs, kind).filter((o) => name === undefined || o.metadata.name === name);
  if (list.length !== 1)
    throw new Error(`expected exactly one ${kind}${name ? ` ${name}` : ""}, got ${list.length}`);
  return list[0] as Obj;
}

export const deployment = (objs: Obj[]) => one(objs, "Deployment");
export const container = (objs: Obj[]): Obj => deployment(objs).spec.template.spec.containers[0];
export const envMap = (c: Obj): Map<string, Obj> =>
  new Map((c.env ?? []).map((e: Obj) => [e.name, e]));
export const envValue = (c: Obj, name: string): string | undefined => envMap(c).get(name)?.value;
export const isHook = (o: Obj) => Boolean(o.metadata?.annotations?.["helm.sh/hook"]);

/** The public game Service(s): not metrics, not the bundled Valkey, not a test hook. */
export const gameServices = (objs: Obj[]) =>
  byKind(objs, "Service").filter(
    (s) =>
      s.metadata.labels["app.kubernetes.io/component"] === "master" &&
      !isHook(s) &&
      !s.metadata.name.endsWith("-metrics"),
  );
