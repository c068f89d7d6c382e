import { describe, expect, it } from "vitest";
import { ConfigError, helpText, loadConfig, OPTIONS } from "../../src/config/index.js";

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("defaults match the reference master and the documented options", () => {
    const config = loadConfig({ argv: [], env: {} });
    expect(config).toMatchObject({
      host: "0.0.0.0",
      port: 6510,
      httpHost: "0.0.0.0",
      httpPort: 9510,
      redis: null,
      keyPrefix: "gmnet",
      logLevel: "info",
      logIp: "full",
      adminToken: null,
      proxyProtocol: "off",
      drainTimeoutMs: 210_000,
      leaseMs: 15_000,
      clientUdpWaitMs: 2_000,
      clientUdpTtlMs: 10_000,
      serverUdpBindWindowMs: 10_000,
      replyGapMs: 100,
      idleTimeoutMs: 10_000,
      lobbyEnabled: true,
      lobbyOrder: "documented",
      minVersion: "",
      maxLineBytes: 1024,
    });
    expect(config.nodeId).toMatch(/^[A-Za-z0-9_.:-]+-[0-9a-f]{6}$/);
  });

  it("two default node ids differ (unique per process)", () => {
    const a = loadConfig({ argv: [], env: {} }).nodeId;
    const b = loadConfig({ argv: [], env: {} }).nodeId;
    expect(a).not.toBe(b);
  });

  it("reads environment variables", () => {
    const config = loadConfig({
      argv: [],
      env: {
        GMNET_PORT: "7000",
        GMNET_HOST: "::",
        GMNET_LOBBY: "false",
        GMNET_ADMIN_TOKEN: "secret",
        GMNET_MIN_VERSION: "1.2.0",
        REDIS_URL: "redis://127.0.0.1:6379/0",
        GMNET_NODE_ID: "node-a",
        GMNET_LOG_IP: "hash",
      },
    });
    expect(config).toMatchObject({
      port: 7000,
      host: "::",
      lobbyEnabled: false,
      adminToken: "secret",
      minVersion: "1.2.0",
      redis: { kind: "url", url: "redis://127.0.0.1:6379/0", password: null },
      nodeId: "node-a",
      logIp: "hash",
    });
  });

  it("reads flags as --name value, --name=value, --flag and --no-flag", () => {
    expect(loadConfig({ argv: ["--port", "7001", "--reply-gap-ms=5"], env: {} })).toMatchObject({
      port: 7001,
      replyGapMs: 5,
    });
    expect(loadConfig({ argv: ["--no-lobby"], env: {} }).lobbyEnabled).toBe(false);
    expect(loadConfig({ argv: ["--lobby"], env: { GMNET_LOBBY: "off" } }).lobbyEnabled).toBe(true);
    expect(loadConfig({ argv: ["--lobby", "false"], env: {} }).lobbyEnabled).toBe(false);
    expect(loadConfig({ argv: ["--lobby=no"], env: {} }).lobbyEnabled).toBe(false);
  });

  it("reads list options for Sentinel and Cluster", () => {
    expect(
      loadConfig({ argv: [], env: { GMNET_REDIS_SENTINELS: "10.0.0.1:26379, [::1]:26380" } }).redis,
    ).toEqual({
      kind: "sentinel",
      sentinels: [
        { host: "10.0.0.1", port: 26379 },
        { host: "::1", port: 26380 },
      ],
      name: "mymaster",
      password: null,
    });
    expect(
      loadConfig({
        argv: ["--redis-cluster-nodes", "a:7000,b:7001", "--redis-password", "pw"],
        env: {},
      }).redis,
    ).toEqual({
      kind: "cluster",
      nodes: [
        { host: "a", port: 7000 },
        { host: "b", port: 7001 },
      ],
      password: "pw",
    });
  });

  it("precedence is file < environment < flags", () => {
    const readFile = () => JSON.stringify({ port: 1000, replyGapMs: 1, idleTimeoutMs: 5000 });
    const config = loadConfig({
      argv: ["--config", "/etc/gmnet.json", "--port", "3000"],
      env: { GMNET_PORT: "2000", GMNET_REPLY_GAP_MS: "2" },
      readFile,
    });
    expect(config.port).toBe(3000);
    expect(config.replyGapMs).toBe(2);
    expect(config.idleTimeoutMs).toBe(5000);
  });

  it("an empty environment variable counts as unset", () => {
    expect(loadConfig({ argv: [], env: { GMNET_PORT: "" } }).port).toBe(6510);
  });

  it("reads a JSON file named by GMNET_CONFIG, with numbers, booleans and lists", () => {
    const files: string[] = [];
    const config = loadConfig({
      argv: [],
      env: { GMNET_CONFIG: "/cfg.json" },
      readFile: (path) => {
        files.push(path);
        return JSON.stringify({
          port: 6600,
          lobbyEnabled: false,
          redisClusterNodes: ["h1:7000", "h2:7000"],
          lobbyOrder: "reference",
        });
      },
    });
    expect(files).toEqual(["/cfg.json"]);
    expect(config).toMatchObject({ port: 6600, lobbyEnabled: false, lobbyOrder: "reference" });
    expect(config.redis).toMatchObject({
      kind: "cluster",
      nodes: [{ host: "h1" }, { host: "h2" }],
    });
  });

  it("reports each bad value once, naming its source", () => {
    const problems = problemsOf(() =>
      loadConfig({
        argv: ["--reply-gap-ms", "-5", "--min-version", "one"],
        env: {
          GMNET_PORT: "70000",
          GMNET_LOG_IP: "loud",
          GMNET_LOBBY: "maybe",
          GMNET_HOST: "not-an-ip",
          GMNET_IDLE_TIMEOUT_MS: "12abc",
        },
      }),
    );
    expect(problems).toHaveLength(7);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^GMNET_PORT: "70000" is not a whole number from 1 to 65535$/),
        expect.stringMatching(/^GMNET_LOG_IP: "loud" is not one of full, hash, truncate$/),
        expect.stringMatching(/^GMNET_LOBBY: "maybe" is not true or false$/),
        expect.stringMatching(/^GMNET_HOST: "not-an-ip" is not an IP address$/),
        expect.stringMatching(/^GMNET_IDLE_TIMEOUT_MS: "12abc"/),
        expect.stringMatching(/^--reply-gap-ms: "-5"/),
        expect.stringMatching(/^--min-version: "one" is not a dotted version/),
      ]),
    );
  });

  it("the error message lists every problem", () => {
    try {
      loadConfig({ argv: ["--bogus"], env: { GMNET_PORT: "x" } });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toContain("unknown option --bogus");
      expect((error as Error).message).toContain('GMNET_PORT: "x"');
    }
  });

  it("rejects unknown flags, a flag without its value, and two Redis modes at once", () => {
    expect(problemsOf(() => loadConfig({ argv: ["--nope"], env: {} }))).toEqual([
      "unknown option --nope",
    ]);
    expect(problemsOf(() => loadConfig({ argv: ["--port"], env: {} }))).toEqual([
      "--port needs a value",
    ]);
    expect(
      problemsOf(() =>
        loadConfig({ argv: [], env: { REDIS_URL: "redis://a", GMNET_REDIS_SENTINELS: "b:1" } }),
      ),
    ).toHaveLength(1);
  });

  it("rejects a Redis URL without a redis scheme and a bad host:port list", () => {
    expect(problemsOf(() => loadConfig({ argv: [], env: { REDIS_URL: "http://x" } }))).toEqual([
      'REDIS_URL: "http://x" must start with redis:// or rediss://',
    ]);
    expect(
      problemsOf(() => loadConfig({ argv: [], env: { GMNET_REDIS_SENTINELS: "a:1,b,c:99999" } })),
    ).toHaveLength(2);
  });

  it("rejects a Redis URL that does not parse, without printing its password", () => {
    for (const url of ["redis://127.0.0.1:99999", "redis://[::1", "redis://user:s3cret@[::1"]) {
      const problems = problemsOf(() => loadConfig({ argv: [], env: { REDIS_URL: url } }));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^REDIS_URL: ".*" is not a URL/);
      expect(problems[0]).not.toContain("s3cret");
    }
  });

  it("rejects a lobby reply larger than a socket may leave unread", () => {
    expect(
      problemsOf(() => loadConfig({ argv: ["--lobby-reply-max-bytes", "65536"], env: {} })),
    ).toEqual([
      "--lobby-reply-max-bytes: 65536 is more than GMNET_MAX_BUFFERED_BYTES_PER_SOCKET (16384); a reply that size would close its reader as slow",
    ]);
  });

  it("rejects a connect wait longer than a client UDP endpoint is kept", () => {
    expect(
      problemsOf(() =>
        loadConfig({
          argv: ["--client-udp-wait-ms", "20000"],
          env: { GMNET_CLIENT_UDP_TTL_MS: "10000" },
        }),
      ),
    ).toEqual([
      "--client-udp-wait-ms: 20000 is more than GMNET_CLIENT_UDP_TTL_MS (10000); a connect would wait longer than the UDP endpoint handed to it is kept",
    ]);
  });

  it("rejects a bad key prefix and node id", () => {
    const problems = problemsOf(() =>
      loadConfig({ argv: ["--node-id", "has space"], env: { GMNET_KEY_PREFIX: "a/b" } }),
    );
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^GMNET_KEY_PREFIX/);
    expect(problems[1]).toMatch(/^--node-id/);
  });

  it("config file problems: unreadable, not an object, unknown key, unsupported type", () => {
    const fail = (text: string) =>
      problemsOf(() => loadConfig({ argv: ["--config=/f.json"], env: {}, readFile: () => text }));
    expect(fail("{")[0]).toMatch(/^config file \/f\.json: /);
    expect(fail("[1]")).toEqual(["config file /f.json: expected a JSON object"]);
    expect(fail('{"colour":"red"}')).toEqual(['config file /f.json: unknown key "colour"']);
    expect(fail('{"port":{"n":1}}')).toEqual([
      'config file /f.json: "port" has an unsupported type',
    ]);
    expect(fail('{"port":0}')).toEqual(['/f.json:port: "0" is not a whole number from 1 to 65535']);
    const missing = problemsOf(() =>
      loadConfig({
        argv: ["--config", "/nope"],
        env: {},
        readFile: () => {
          throw new Error("ENOENT: no such file");
        },
      }),
    );
    expect(missing).toEqual(["config file /nope: ENOENT: no such file"]);
  });

  it("--help lists every option with its flag and environment variable", () => {
    const help = helpText();
    for (const option of Object.values(OPTIONS)) {
      expect(help).toContain(option.flag);
      expect(help).toContain(`env ${option.env}`);
    }
  });
  it("every option is reachable as a flag, an env variable and a file key (one table feeds all three)", () => {
    for (const [key, spec] of Object.entries(OPTIONS)) {
      if (key === "configFile") continue;
      // The default is always a valid value: give it back through each source.
      const sample =
        spec.default === null
          ? key === "redisUrl"
            ? "redis://127.0.0.1:6379"
            : key === "drainTimeoutMs"
              ? "5000"
              : "ab"
          : Array.isArray(spec.default)
            ? key === "proxyTrustedCidrs"
              ? "10.0.0.0/8"
              : "h:1"
            : String(spec.default);
      const text = sample === "" ? "1.0" : sample;
      const viaFlag = spec.parser.kind === "bool" ? [spec.flag] : [`${spec.flag}=${text}`];
      expect(() => loadConfig({ argv: viaFlag, env: {} }), `${key} by flag`).not.toThrow();
      expect(
        () => loadConfig({ argv: [], env: { [spec.env]: text } }),
        `${key} by env`,
      ).not.toThrow();
      expect(
        () =>
          loadConfig({
            argv: ["--config", "/f.json"],
            env: {},
            readFile: () => JSON.stringify({ [key]: text }),
          }),
        `${key} by file`,
      ).not.toThrow();
    }
  });

  it("reads the UDP receive buffer size from its flag, env variable and file key", () => {
    expect(loadConfig({ argv: ["--udp-receive-buffer-bytes", "131072"], env: {} })).toMatchObject({
      udpReceiveBufferBytes: 131072,
    });
    expect(
      loadConfig({ argv: [], env: { GMNET_UDP_RECEIVE_BUFFER_BYTES: "262144" } })
        .udpReceiveBufferBytes,
    ).toBe(262144);
    expect(loadConfig({ argv: [], env: {} }).udpReceiveBufferBytes).toBe(4 * 1024 * 1024);
  });

  it("host:port list errors name the source the value came from", () => {
    expect(
      problemsOf(() => loadConfig({ argv: ["--redis-cluster-nodes", "a:1,nope"], env: {} })),
    ).toEqual(['--redis-cluster-nodes: "nope" is not host:port']);
    expect(problemsOf(() => loadConfig({ argv: [], env: { GMNET_REDIS_SENTINELS: "x" } }))).toEqual(
      ['GMNET_REDIS_SENTINELS: "x" is not host:port'],
    );
  });

  it("a Redis password beside a URL is used, and one given twice is rejected naming both", () => {
    expect(
      loadConfig({
        argv: [],
        env: { REDIS_URL: "redis://10.0.0.5:6379", GMNET_REDIS_PASSWORD: "s3cret" },
      }).redis,
    ).toEqual({ kind: "url", url: "redis://10.0.0.5:6379", password: "s3cret" });
    expect(
      problemsOf(() =>
        loadConfig({
          argv: ["--redis-password", "b"],
          env: { REDIS_URL: "redis://:a@10.0.0.5:6379" },
        }),
      ),
    ).toEqual(["--redis-password: REDIS_URL already carries a password; give it once"]);
  });

  it("PROXY protocol needs the trusted proxy addresses, which must be addresses or CIDRs", () => {
    expect(problemsOf(() => loadConfig({ argv: ["--proxy-protocol", "v2"], env: {} }))[0]).toMatch(
      /^--proxy-protocol: PROXY protocol needs GMNET_PROXY_TRUSTED_CIDRS/,
    );
    expect(
      loadConfig({
        argv: [],
        env: {
          GMNET_PROXY_PROTOCOL: "on",
          GMNET_PROXY_TRUSTED_CIDRS: "10.0.0.0/8, fd00::/8,192.0.2.7",
        },
      }).proxyTrustedCidrs,
    ).toEqual([
      { family: 4, address: "10.0.0.0", prefixLength: 8 },
      { family: 6, address: "fd00::", prefixLength: 8 },
      { family: 4, address: "192.0.2.7", prefixLength: 32 },
    ]);
    expect(
      problemsOf(() =>
        loadConfig({
          argv: [],
          env: { GMNET_PROXY_PROTOCOL: "on", GMNET_PROXY_TRUSTED_CIDRS: "10.0.0.0/33" },
        }),
      ),
    ).toEqual([
      'GMNET_PROXY_TRUSTED_CIDRS: "10.0.0.0/33" is not an address or CIDR range (e.g. 10.0.0.0/8)',
    ]);
  });

  it("the drain deadline is derived from the games' ping interval unless set", () => {
    expect(loadConfig({ argv: [], env: {} }).drainTimeoutMs).toBe(180_000 + 30_000);
    expect(
      loadConfig({ argv: [], env: { GMNET_SERVER_PING_INTERVAL_MS: "2000" } }).drainTimeoutMs,
    ).toBe(32_000);
    expect(loadConfig({ argv: ["--drain-timeout-ms", "0"], env: {} }).drainTimeoutMs).toBe(0);
  });
});
