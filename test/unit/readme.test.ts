// The README is how users meet every option: its table is generated from the
// option table (npm run docs:options) and must not drift from it.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { OPTIONS, optionsMarkdown } from "../../src/config/index.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README", () => {
  it("carries the option table exactly as generated from src/config (run npm run docs:options)", () => {
    const begin = readme.indexOf("<!-- options:begin");
    const end = readme.indexOf("<!-- options:end -->");
    expect(begin).toBeGreaterThan(0);
    const block = readme.slice(readme.indexOf("\n", begin) + 1, end).trim();
    expect(block).toBe(optionsMarkdown());
  });

  it("lists every option with its flag and environment variable", () => {
    const missing = Object.values(OPTIONS).filter(
      (o) => !readme.includes(`\`${o.flag}\``) || !readme.includes(`\`${o.env}\``),
    );
    expect(missing.map((o) => o.flag)).toEqual([]);
  });

  it("starts with the two commands: run the master, pass the tests", () => {
    const quickStart = readme.slice(
      readme.indexOf("## Quick start"),
      readme.indexOf("## Quick start") + 400,
    );
    expect(quickStart).toContain("npm ci && npm start");
    expect(quickStart).toContain("npm test");
  });
});
