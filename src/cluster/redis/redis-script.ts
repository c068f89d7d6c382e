// A Lua script run by SHA (EVALSHA, falling back to EVAL once when Redis does
// not know it yet), with a typed decoder for its reply. Every script is the
// shared prelude (the server hash's layout, then prelude.lua: the clock, the
// pacer model) plus its own file, read on first use, so a memory-only node
// never touches them.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Cluster, Redis } from "ioredis";
import { serverHashLua } from "./server-hash.js";

export type RedisClient = Redis | Cluster;
export type RedisArgument = string | number;

/** A reply that is not what the script returns: the store or the script is not ours. */
export class StoreReplyError extends Error {
  readonly code = "store_reply";
  constructor(script: string, detail: string) {
    super(`unexpected reply from the ${script} script: ${detail}`);
    this.name = "StoreReplyError";
  }
}

function readLua(name: string): string {
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), "utf8");
}

let prelude: string | null = null;

function preludeLua(): string {
  prelude ??= `${serverHashLua()}\n${readLua("prelude")}`;
  return prelude;
}

export class RedisScript<Reply> {
  private loaded: { source: string; sha: string } | null = null;

  constructor(
    readonly name: string,
    private readonly decode: (reply: unknown, fail: (detail: string) => never) => Reply,
  ) {}

  private get script(): { source: string; sha: string } {
    if (!this.loaded) {
      const source = `${preludeLua()}${readLua(this.name)}`;
      this.loaded = { source, sha: createHash("sha1").update(source).digest("hex") };
    }
    return this.loaded;
  }

  /** The SHA Redis knows the script by (what EVALSHA and MONITOR show). */
  get sha(): string {
    return this.script.sha;
  }

  async preload(client: RedisClient): Promise<void> {
    await client.script("LOAD", this.script.source);
  }

  async run(
    client: RedisClient,
    keys: readonly string[],
    args: readonly RedisArgument[],
  ): Promise<Reply> {
    const { sha, source } = this.script;
    let reply: unknown;
    try {
      reply = await client.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      reply = await client.eval(source, keys.length, ...keys, ...args);
    }
    return this.decode(reply, (detail) => {
      throw new StoreReplyError(this.name, detail);
    });
  }
}

/** Reply shape helpers for decoders. */
export const reply = {
  array(value: unknown, fail: (detail: string) => never): unknown[] {
    return Array.isArray(value) ? value : fail("expected an array");
  },
  text(value: unknown, fail: (detail: string) => never): string {
    if (typeof value === "string") return value;
    if (typeof value === "number") return String(value);
    return fail("expected a string");
  },
  /** A port as text, "" for none. */
  port(value: unknown, fail: (detail: string) => never): number | null {
    const text = reply.text(value, fail);
    if (text === "") return null;
    const port = Number(text);
    return Number.isInteger(port) && port >= 0 && port <= 65535 ? port : fail(`bad port ${text}`);
  },
};
