// Errors a node stops on, with a stable code: the CLI prints each as one line
// (no stack) and exits with code 2. Everything after start is a logged,
// counted condition instead, never a crash.
export type StartupErrorCode = "config" | "store_credentials" | "store_permissions" | "listen";

export class StartupError extends Error {
  constructor(
    readonly code: StartupErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "StartupError";
  }
}
