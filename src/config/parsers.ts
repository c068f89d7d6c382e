// Value parsers for configuration options: each turns a raw value (from a
// flag, an environment variable or a JSON file) into a typed value, or into
// one sentence saying what is wrong with it. The option table (options.ts)
// pairs every option with one of these.
import { isIP } from "node:net";
import { parseCidr, type Cidr } from "../protocol/ip.js";

/** A value as it arrives: text from a flag or the environment, or a JSON value from the file. */
export type RawValue = string | number | boolean | readonly string[];

/** A failure carries one sentence per bad part (a list may have several). */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; problems: string[] };

export interface ValueParser<T> {
  /** How a flag takes it: booleans also work as bare `--flag` / `--no-flag`. */
  readonly kind: "int" | "string" | "bool" | "list";
  /** What --help and the README say about the accepted values (null: any text). */
  readonly accepts: string | null;
  parse(raw: RawValue): ParseResult<T>;
}

export interface HostPort {
  host: string;
  port: number;
}

const ok = <T>(value: T): ParseResult<T> => ({ ok: true, value });
const bad = <T>(...problems: string[]): ParseResult<T> => ({ ok: false, problems });
const text = (raw: RawValue): string => (Array.isArray(raw) ? raw.join(",") : String(raw)).trim();

export function int(min: number, max: number): ValueParser<number> {
  return {
    kind: "int",
    accepts: `${min}..${max}`,
    parse(raw) {
      const value = /^-?\d+$/.test(text(raw)) ? Number(text(raw)) : Number.NaN;
      if (!Number.isSafeInteger(value) || value < min || value > max)
        return bad(`"${text(raw)}" is not a whole number from ${min} to ${max}`);
      return ok(value);
    },
  };
}

export const bool: ValueParser<boolean> = {
  kind: "bool",
  accepts: "true | false",
  parse(raw) {
    if (typeof raw === "boolean") return ok(raw);
    const value = text(raw).toLowerCase();
    if (["true", "1", "yes", "on"].includes(value)) return ok(true);
    if (["false", "0", "no", "off"].includes(value)) return ok(false);
    return bad(`"${value}" is not true or false`);
  },
};

export function oneOf<const T extends string>(choices: readonly T[]): ValueParser<T> {
  return {
    kind: "string",
    accepts: choices.join(" | "),
    parse(raw) {
      const value = text(raw);
      const choice = choices.find((c) => c === value);
      return choice === undefined
        ? bad(`"${value}" is not one of ${choices.join(", ")}`)
        : ok(choice);
    },
  };
}

/** Free text, optionally checked by a pattern: `accepts` names the rule, `problem` says a value broke it. */
export function textMatching(
  pattern: RegExp | null,
  accepts: string | null = null,
  problem = "is not accepted",
): ValueParser<string> {
  return {
    kind: "string",
    accepts,
    parse(raw) {
      const value = text(raw);
      return pattern && !pattern.test(value) ? bad(`"${value}" ${problem}`) : ok(value);
    },
  };
}

export const anyText = textMatching(null);

/** A redis:// or rediss:// URL that parses, with a host; problems never echo its password. */
export const redisUrl: ValueParser<string> = {
  kind: "string",
  accepts: "redis://… or rediss://…",
  parse(raw) {
    const value = text(raw);
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return bad(
        `"${withoutPassword(value)}" is not a URL (a port above 65535? an unclosed [IPv6]?)`,
      );
    }
    if (url.protocol !== "redis:" && url.protocol !== "rediss:")
      return bad(`"${withoutPassword(value)}" must start with redis:// or rediss://`);
    if (url.hostname === "") return bad(`"${withoutPassword(value)}" names no host`);
    return ok(value);
  },
};

/** The URL as a problem may print it: any user:password@ part masked. */
function withoutPassword(value: string): string {
  return value.replace(/\/\/[^/@]*@/, "//***@");
}

export const ipAddress: ValueParser<string> = {
  kind: "string",
  accepts: "an IPv4 or IPv6 address",
  parse(raw) {
    const value = text(raw);
    return isIP(value) === 0 ? bad(`"${value}" is not an IP address`) : ok(value);
  },
};

/** A comma-separated list (or a JSON array in the file); each item parsed by `item`. */
export function listOf<T>(
  item: (entry: string) => ParseResult<T>,
  accepts: string,
): ValueParser<T[]> {
  return {
    kind: "list",
    accepts,
    parse(raw) {
      const entries = (Array.isArray(raw) ? raw : text(raw).split(","))
        .map((entry) => String(entry).trim())
        .filter((entry) => entry !== "");
      const values: T[] = [];
      const problems: string[] = [];
      for (const entry of entries) {
        const parsed = item(entry);
        if (parsed.ok) values.push(parsed.value);
        else problems.push(...parsed.problems);
      }
      return problems.length > 0 ? bad(...problems) : ok(values);
    },
  };
}

export const hostPortList = listOf<HostPort>((entry) => {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(entry);
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match || port < 1 || port > 65535) return bad(`"${entry}" is not host:port`);
  return ok({ host: match[1] as string, port });
}, "host:port,host:port");

export const cidrList = listOf<Cidr>((entry) => {
  const cidr = parseCidr(entry);
  return cidr ? ok(cidr) : bad(`"${entry}" is not an address or CIDR range (e.g. 10.0.0.0/8)`);
}, "CIDR,CIDR (e.g. 10.0.0.0/8,fd00::/8)");

/** Makes a parser's option optional: unset means null. */
export function optional<T>(parser: ValueParser<T>): ValueParser<T | null> {
  return parser;
}
