import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Integration suites open real sockets and Redis processes; keep files
    // in separate forks so a crash in one cannot take the others down.
    pool: "forks",
  },
});
