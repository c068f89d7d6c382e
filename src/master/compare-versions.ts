// Dotted version comparison for the reg2 minimum-version check ("1.2.10" > "1.2.9").
export function compareVersions(left: string, right: string): number {
  const a = left
    .trim()
    .split(".")
    .map((part) => Number.parseInt(part, 10));
  const b = right
    .trim()
    .split(".")
    .map((part) => Number.parseInt(part, 10));
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = Number.isNaN(a[i] ?? 0) ? -1 : (a[i] ?? 0);
    const y = Number.isNaN(b[i] ?? 0) ? -1 : (b[i] ?? 0);
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
