// The load generator's stand-in for a layer-4 load balancer that keeps source
// addresses: it picks the node for each NEW flow (a UDP datagram, a TCP
// connection) and never moves an established one. `StaticPicker` treats every
// node as up; `ReadinessBalancer` polls each node's /readyz, as a balancer's
// health check does, so a draining node (503) or a dead one gets no new flows
// while the sockets it already holds stay where they are.
import type { Target } from "./load.js";

export interface NodePicker {
  readonly size: number;
  /** The first node at or after `preferred` (modulo the count) taking new flows; null: none is. */
  pick(preferred: number): Target | null;
}

export class StaticPicker implements NodePicker {
  constructor(private readonly nodes: readonly Target[]) {}

  get size(): number {
    return this.nodes.length;
  }

  pick(preferred: number): Target | null {
    return this.nodes[preferred % this.nodes.length] ?? null;
  }
}

export interface BalancedNode {
  target: Target;
  /** The node's readiness URL (…/readyz): 200 takes new flows, anything else does not. */
  readyUrl: string;
}

export class ReadinessBalancer implements NodePicker {
  private readonly ready: boolean[];
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  /** Each node's readiness changes, for the report (when the balancer saw them). */
  readonly transitions: Array<{ atMs: number; node: number; ready: boolean }> = [];

  constructor(
    private readonly nodes: readonly BalancedNode[],
    /** How often /readyz is asked (a balancer's health-check interval). */
    private readonly pollMs = 200,
  ) {
    this.ready = nodes.map(() => false);
  }

  get size(): number {
    return this.nodes.length;
  }

  /** Polls once (so the first picks see the truth), then every `pollMs`. */
  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.pollMs);
  }

  isReady(node: number): boolean {
    return this.ready[node] === true;
  }

  pick(preferred: number): Target | null {
    const count = this.nodes.length;
    for (let step = 0; step < count; step++) {
      const index = (preferred + step) % count;
      if (this.ready[index]) return (this.nodes[index] as BalancedNode).target;
    }
    return null;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async poll(): Promise<void> {
    if (this.polling) return; // a slow node must not stack health checks
    this.polling = true;
    try {
      await Promise.all(
        this.nodes.map(async (node, index) => {
          let up = false;
          try {
            const response = await fetch(node.readyUrl, {
              signal: AbortSignal.timeout(Math.max(500, this.pollMs * 2)),
            });
            up = response.status === 200;
            await response.body?.cancel();
          } catch {
            up = false; // refused or timed out: a dead node takes no new flows
          }
          if (up !== this.ready[index]) {
            this.ready[index] = up;
            this.transitions.push({ atMs: Date.now(), node: index, ready: up });
          }
        }),
      );
    } finally {
      this.polling = false;
    }
  }
}
