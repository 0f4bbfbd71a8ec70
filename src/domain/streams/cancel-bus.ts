/**
 * Carries "stop the answer running in this conversation" to the process that runs it: in process
 * in embedded mode, over Redis pub/sub in cluster mode (every node hears it; the one running the
 * answer stops it).
 */
export interface CancelBus {
  publish(conversationId: number): Promise<void>;
  /** Registers the one handler of this process. */
  subscribe(handler: (conversationId: number) => void): void;
  close(): Promise<void>;
}

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
