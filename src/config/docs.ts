// What users read about the options, derived from the option table: the
// --help text and the README's option table.
import { OPTIONS, type OptionKey, type OptionSpec } from "./options.js";

function entries(): Array<[OptionKey, OptionSpec<unknown>]> {
  return Object.entries(OPTIONS) as Array<[OptionKey, OptionSpec<unknown>]>;
}

function defaultText(spec: OptionSpec<unknown>): string {
  if (spec.defaultText !== undefined) return spec.defaultText;
  return Array.isArray(spec.default) ? spec.default.join(",") : String(spec.default);
}

function flagUsage(spec: OptionSpec<unknown>): string {
  return spec.parser.kind === "bool"
    ? `${spec.flag} / --no-${spec.flag.slice(2)}`
    : `${spec.flag} <value>`;
}

export function helpText(): string {
  const lines = [
    "gmnet-master: a GMnet PUNCH / GATE.PUNCH master server (UDP hole punching)",
    "",
    "Usage: gmnet-master [options]",
    "",
    "Options (flag / environment variable, default):",
  ];
  for (const [, spec] of entries()) {
    lines.push(`  ${flagUsage(spec)}`);
    const accepts = spec.parser.accepts ? `; ${spec.parser.accepts}` : "";
    lines.push(`      env ${spec.env}, default ${defaultText(spec)}${accepts}`);
    lines.push(`      ${spec.help.replaceAll("`", "")}`);
  }
  lines.push("", "  -h, --help       this text", "  --version        print the version");
  return lines.join("\n");
}

/** The README's option table (between its `options:begin` / `options:end` markers). */
export function optionsMarkdown(): string {
  const cell = (text: string) => text.replaceAll("|", "\\|");
  const rows = entries().map(([, spec]) => {
    const shown = defaultText(spec);
    const fallback = shown.startsWith("(") || shown === "" ? shown : `\`${shown}\``;
    const accepts = spec.parser.accepts ?? "text";
    return `| \`${spec.flag}\` | \`${spec.env}\` | ${cell(fallback)} | ${cell(accepts)} | ${cell(spec.help)} |`;
  });
  return [
    "| flag | env | default | accepts | what |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}
