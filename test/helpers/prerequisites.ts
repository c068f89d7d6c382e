// A proof whose prerequisites are missing must not pass silently in CI: there
// it fails, naming what is missing; elsewhere it skips, saying why.
import { describe, it, type TestFunction } from "vitest";

/** `.ci/run` sets CI (and so do CI services). */
export const IN_CI = Boolean(process.env.CI);

export interface Prerequisite {
  /** Null when the prerequisite is there, else why it is not. */
  missing: string | null;
}

/** `describe(name, body)` when the prerequisite holds; else a skip (outside CI) or a failure (in CI). */
export function describeWith(prerequisite: Prerequisite, name: string, body: () => void): void {
  const { missing } = prerequisite;
  if (missing === null) {
    describe(name, body);
    return;
  }
  if (IN_CI) {
    describe(name, () => {
      it("has its prerequisites (required in CI)", () => {
        throw new Error(`cannot run in CI: ${missing}`);
      });
    });
    return;
  }
  console.warn(`[skip] ${name}: ${missing}`);
  describe.skip(name, body);
}

/** `it(name, body)` when the prerequisite holds; else a skip (outside CI) or a failure (in CI). */
export function itWith(
  prerequisite: Prerequisite,
  name: string,
  body: TestFunction,
  timeoutMs?: number,
): void {
  const { missing } = prerequisite;
  if (missing === null) it(name, body, timeoutMs);
  else if (IN_CI) {
    it(name, () => {
      throw new Error(`cannot run in CI: ${missing}`);
    });
  } else {
    console.warn(`[skip] ${name}: ${missing}`);
    it.skip(name, body);
  }
}
