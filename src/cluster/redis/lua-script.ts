// A Lua script run by SHA (EVALSHA), falling back to EVAL once when Redis
// does not know it yet (first use, or after a restart flushed the cache).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Cluster, Redis } from "ioredis";

export type RedisClient = Redis | Cluster;
export type RedisArgument = string | number;

export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  static load(name: string): LuaScript {
    const source = readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), "utf8");
    return new LuaScript(name, source);
  }

  async preload(client: RedisClient): Promise<void> {
    await client.script("LOAD", this.source);
  }

  async run(
    client: RedisClient,
    keys: readonly string[],
    args: readonly RedisArgument[],
  ): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
