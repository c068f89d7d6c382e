import { describe, expect, it } from "vitest";
import { ipFormatter } from "../../src/logging.js";
import { LogThrottle } from "../../src/util/log-throttle.js";

describe("how game IPs appear in logs", () => {
  it("full keeps the address", () => {
    expect(ipFormatter("full")("203.0.113.7")).toBe("203.0.113.7");
  });

  it("hash gives a stable token that is not the address", () => {
    const hash = ipFormatter("hash");
    expect(hash("203.0.113.7")).toMatch(/^ip-[0-9a-f]{12}$/);
    expect(hash("203.0.113.7")).toBe(hash("203.0.113.7"));
    expect(hash("203.0.113.7")).not.toBe(hash("203.0.113.8"));
  });

  it("truncate keeps the /24 of IPv4 and the /48 of IPv6", () => {
    const truncate = ipFormatter("truncate");
    expect(truncate("203.0.113.7")).toBe("203.0.113.0/24");
    expect(truncate("2001:db8:1234:5678::1")).toBe("2001:db8:1234::/48");
    // A compressed address whose /48 crosses the "::" (was "2001:db8:::/48").
    expect(truncate("2001:db8::5")).toBe("2001:db8::/48");
    expect(truncate("::1")).toBe("::/48");
  });
});

describe("LogThrottle", () => {
  it("allows one line per key per interval and reports how many it held back", () => {
    let now = 0;
    const throttle = new LogThrottle(1000, () => now);
    expect(throttle.allow("a")).toBe(0);
    expect(throttle.allow("a")).toBeNull();
    expect(throttle.allow("a")).toBeNull();
    expect(throttle.allow("b")).toBe(0);
    now = 1000;
    expect(throttle.allow("a")).toBe(2);
  });
});
