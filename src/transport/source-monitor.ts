// Notices when every recent game connection comes from one source address:
// the classic sign of a load balancer that hides the real sources, with which
// every punch fails (the master hands out the balancer's address). O(1) per
// connection: the length of the current run of one address, and once
// collapsed, that address's share of recent connections. With hysteresis: it
// collapses on a run of `window` connections from one address, and clears
// only once that address's share falls below half, so a stray address now
// and then does not flap the state (its log lines, gauge and readiness warning).

/** The collapsed address's share of recent connections below which it clears. */
const CLEAR_BELOW_SHARE = 0.5;

export class SourceAddressMonitor {
  private lastIp: string | null = null;
  private run = 0;
  private collapsedIp: string | null = null;
  /** The collapsed address's share of about the last `window` connections (a moving average). */
  private share = 0;

  constructor(
    private readonly window: number,
    private readonly onChange: (collapsed: boolean, sourceIp: string) => void,
  ) {}

  get isCollapsed(): boolean {
    return this.collapsedIp !== null;
  }

  observe(sourceIp: string): void {
    this.run = sourceIp === this.lastIp ? this.run + 1 : 1;
    this.lastIp = sourceIp;
    if (this.collapsedIp === null) {
      if (this.run < this.window) return;
      this.collapsedIp = sourceIp;
      this.share = 1;
      this.onChange(true, sourceIp);
      return;
    }
    this.share += ((sourceIp === this.collapsedIp ? 1 : 0) - this.share) / this.window;
    if (this.share >= CLEAR_BELOW_SHARE) return;
    this.collapsedIp = null;
    this.onChange(false, sourceIp);
  }
}
