// The embedded single-node backend: a MemoryRegistry, a bus that only reaches
// this node, and a directory that lists only this node.
import type { StoreTimings } from "../timing.js";
import type {
  Bus,
  ClusterBackend,
  ClusterStatus,
  NodeDirectory,
  NodeInfo,
  NodeMessage,
} from "../types.js";
import { MemoryRegistry } from "./memory-registry.js";

class LocalBus implements Bus {
  private handler: ((message: NodeMessage) => void) | null = null;

  constructor(private readonly nodeId: string) {}

  async send(nodeId: string, message: NodeMessage): Promise<boolean> {
    if (nodeId !== this.nodeId || !this.handler) return false;
    this.handler(message);
    return true;
  }

  onMessage(handler: (message: NodeMessage) => void): void {
    this.handler = handler;
  }

  async close(): Promise<void> {
    this.handler = null;
  }
}

class LocalDirectory implements NodeDirectory {
  private self: NodeInfo | null = null;

  async heartbeat(info: NodeInfo): Promise<void> {
    this.self = { ...info };
  }

  async list(): Promise<NodeInfo[]> {
    return this.self ? [{ ...this.self }] : [];
  }

  async isAlive(nodeId: string): Promise<boolean> {
    return this.self?.nodeId === nodeId;
  }

  async leave(): Promise<void> {
    this.self = null;
  }
}

export class MemoryBackend implements ClusterBackend {
  readonly registry: MemoryRegistry;
  readonly bus: Bus;
  readonly nodes: NodeDirectory = new LocalDirectory();

  constructor(nodeId: string, timings: StoreTimings) {
    this.registry = new MemoryRegistry(timings);
    this.bus = new LocalBus(nodeId);
  }

  status(): ClusterStatus {
    return { storeReachable: true, mode: "memory" };
  }

  onStoreRecovered(): void {
    // Memory never loses its state while the process lives.
  }

  async close(): Promise<void> {
    await this.bus.close();
    await this.registry.close();
  }
}
