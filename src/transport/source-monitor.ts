// Notices when every recent game connection comes from one source address:
// the classic sign of a load balancer that hides the real sources, with which
// every punch fails (the master hands out the balancer's address).
export class SourceAddressMonitor {
  private readonly recent: string[] = [];
  private collapsed = false;

  constructor(
    private readonly window: number,
    private readonly onChange: (collapsed: boolean, sourceIp: string) => void,
  ) {}

  get isCollapsed(): boolean {
    return this.collapsed;
  }

  observe(sourceIp: string): void {
    this.recent.push(sourceIp);
    if (this.recent.length > this.window) this.recent.shift();
    const collapsed =
      this.recent.length === this.window && this.recent.every((ip) => ip === sourceIp);
    if (collapsed !== this.collapsed) {
      this.collapsed = collapsed;
      this.onChange(collapsed, sourceIp);
    }
  }
}
