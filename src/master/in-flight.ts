// Commands being processed, so a drain can wait for them; an error that
// escapes a command is logged with its stack (never a crash).
import type { Logger } from "pino";

export class InFlight {
  private count = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly logger: Logger) {}

  get size(): number {
    return this.count;
  }

  track(work: Promise<unknown>): Promise<void> {
    this.count++;
    // One reaction for both outcomes: this runs for every command.
    return work.then(
      () => this.done(),
      (error: unknown) => {
        this.logger.error({ err: error }, "unexpected error in command");
        this.done();
      },
    );
  }

  private done(): void {
    this.count--;
    if (this.count === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Resolves when nothing is in flight. */
  whenIdle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
