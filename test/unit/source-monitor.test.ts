import { describe, expect, it } from "vitest";
import { SourceAddressMonitor } from "../../src/transport/source-monitor.js";

function monitor(window = 50) {
  const changes: Array<[boolean, string]> = [];
  const watched = new SourceAddressMonitor(window, (collapsed, ip) =>
    changes.push([collapsed, ip]),
  );
  const observe = (ip: string, times = 1) => {
    for (let i = 0; i < times; i++) watched.observe(ip);
  };
  return { watched, changes, observe };
}

describe("SourceAddressMonitor", () => {
  it("collapses once a whole window of connections came from one address", () => {
    const { watched, changes, observe } = monitor();
    observe("10.0.0.1", 49);
    expect(watched.isCollapsed).toBe(false);
    observe("10.0.0.1");
    expect(watched.isCollapsed).toBe(true);
    expect(changes).toEqual([[true, "10.0.0.1"]]);
  });

  it("does not flap when a stray address shows up between runs of the collapsed one", () => {
    const { watched, changes, observe } = monitor();
    for (let cycle = 0; cycle < 10; cycle++) {
      observe("10.0.0.1", 50);
      observe("10.0.0.2");
    }
    expect(watched.isCollapsed).toBe(true);
    expect(changes).toHaveLength(1);
  });

  it("clears once most recent connections come from other addresses, then can collapse again", () => {
    const { watched, changes, observe } = monitor();
    observe("10.0.0.1", 50);
    let others = 0;
    while (watched.isCollapsed && others < 1_000) observe(`10.1.0.${others++ % 250}`);
    expect(watched.isCollapsed).toBe(false);
    // About ln(2) of a window of other addresses (35 of 50): not one, not hundreds.
    expect(others).toBeGreaterThan(25);
    expect(others).toBeLessThan(50);
    observe("10.0.0.3", 50);
    expect(changes.map(([collapsed]) => collapsed)).toEqual([true, false, true]);
  });
});
