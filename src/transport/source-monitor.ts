// Notices when every recent game connection comes from one source address:
// the classic sign of a load balancer that hides the real sources, with which
// every punch fails (the master hands out the balancer's address). O(1) per
// connection: the length of the current run of one address is all it needs.
export class SourceAddressMonitor {
  private lastIp: string | null = null;
  private run = 0;
  private collapsed = false;

  constructor(
    private readonly window: number,
    private readonly onChange: (collapsed: boolean, sourceIp: string) => void,
  ) {}

  get isCollapsed(): boolean {
    return this.collapsed;
  }

  observe(sourceIp: string): void {
    this.run = sourceIp === this.lastIp ? this.run + 1 : 1;
    this.lastIp = sourceIp;
    const collapsed = this.run >= this.window;
    if (collapsed !== this.collapsed) {
      this.collapsed = collapsed;
      this.onChange(collapsed, sourceIp);
    }
  }
}
