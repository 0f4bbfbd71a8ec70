import { isoAt, type Clock } from '../clock.ts';
import type { ConversationsStore } from './conversations.store.ts';

/**
 * Settles replies that a dead process left in status 'streaming' (killed mid-stream): their
 * partial text stays, with status 'error'. Which ones are dead depends on the mode:
 * - embedded (SQLite, one process owns the file): at start-up, every 'streaming' reply is dead,
 *   and every stream lease is stale.
 * - cluster (PostgreSQL, several nodes): another node may be streaming right now, so only replies
 *   not written for a whole lease (live streams write a heartbeat four times per lease) are
 *   dead; checked at start-up and then once per lease. Their leases expire by themselves.
 */
export class StreamRecovery {
  private readonly deps: { store: ConversationsStore; clock: Clock; mode: 'embedded' | 'cluster'; leaseMs: number };
  private timer: NodeJS.Timeout | undefined;

  constructor(deps: { store: ConversationsStore; clock: Clock; mode: 'embedded' | 'cluster'; leaseMs: number }) {
    this.deps = deps;
  }

  /** Settles what earlier processes left behind; in cluster mode keeps checking until stop(). */
  async start(): Promise<number> {
    const { store, mode } = this.deps;
    let settled: number;
    if (mode === 'embedded') {
      settled = await store.settleStreamingMessages('error', this.now());
      await store.releaseAllStreamLeases();
    } else {
      settled = await this.sweep();
      this.timer = setInterval(() => void this.sweep().catch(() => {}), this.deps.leaseMs);
      this.timer.unref();
    }
    return settled;
  }

  /** Settles the replies nobody has written for a whole lease. */
  sweep(): Promise<number> {
    const now = this.deps.clock.now();
    return this.deps.store.settleStreamingMessages('error', isoAt(now), isoAt(now - this.deps.leaseMs));
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private now() {
    return isoAt(this.deps.clock.now());
  }
}
