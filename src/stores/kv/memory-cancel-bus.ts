import type { CancelBus } from '../../domain/streams/cancel-bus.ts';

/** Embedded mode: one process, so a cancel is a call. */
export class MemoryCancelBus implements CancelBus {
  private handler: ((conversationId: number) => void) | undefined;

  async publish(conversationId: number): Promise<void> {
    this.handler?.(conversationId);
  }

  subscribe(handler: (conversationId: number) => void): void {
    this.handler = handler;
  }

  async close(): Promise<void> {}
}
