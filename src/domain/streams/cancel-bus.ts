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
