// The README is how users meet every option: keep its table complete.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { OPTIONS } from "../../src/config.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README", () => {
  it("lists every option with its flag and environment variable", () => {
    const missing = OPTIONS.filter(
      (o) => !readme.includes(`\`${o.flag}\``) || !readme.includes(`\`${o.env}\``),
    );
    expect(missing.map((o) => o.key)).toEqual([]);
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
