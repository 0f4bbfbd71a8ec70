/**
 * Deadlines a fixed delay after they were set, all served by one timer. Every open stream had a few
 * timers of its own (heartbeat, presence, longest answer, log expiry): a Timeout, its callback and
 * that callback's context each, ~1 KiB per stream. With one delay for all, a deadline set later is
 * never earlier, so the items wait in the order they were (re)set and the timer only ever waits for
 * the first one.
 */
export class DeadlineQueue<T> {
  /** Items by when they are due (performance.now()), in the order they were set: the first is due first. */
  private readonly due = new Map<T, number>();
  private readonly delayMs: number;
  /** How much sooner than set again an item may fall due (see `set`). */
  private readonly slackMs: number;
  private readonly onDue: (item: T) => void;
  private timer: NodeJS.Timeout | undefined;

  /** `onDue` gets each item once its delay is over (it may set it again). */
  constructor(delayMs: number, onDue: (item: T) => void) {
    this.delayMs = delayMs;
    this.slackMs = Math.floor(delayMs / 64);
    this.onDue = onDue;
  }

  /**
   * Sets (or sets again, from now) the item's deadline. Set again less than a 64th of the delay
   * later, it keeps the deadline it has: an SSE stream sets its heartbeat with every write, several
   * in a millisecond under load, and each move is a delete and an insert in the map (2 % of a
   * stream's CPU time). Its keep-alive comment may then come that much early (0.2 s in 15).
   */
  set(item: T): void {
    // Whole milliseconds: a small integer is kept in the map's slot, a fraction takes a heap number per item.
    const due = Math.ceil(performance.now()) + this.delayMs;
    const current = this.due.get(item);
    if (current !== undefined && due - current < this.slackMs) return;
    this.due.delete(item);
    this.due.set(item, due);
    if (!this.timer) this.wait(this.delayMs);
  }

  delete(item: T): void {
    this.due.delete(item);
    if (this.due.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  get size(): number {
    return this.due.size;
  }

  private wait(ms: number): void {
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(ms)));
    this.timer.unref();
  }

  private readonly fire = () => {
    // `timer` stays set while firing: an item set again by onDue must not arm a timer a whole delay
    // away while earlier items still wait (they would be due up to a delay late).
    // A timer may fire a fraction of a millisecond before performance.now() says the delay is over.
    const now = performance.now() + 1;
    try {
      for (const [item, due] of this.due) {
        if (due > now) break;
        this.due.delete(item);
        // Set again here, it goes to the back, due later than `now`: the loop stops there.
        this.onDue(item);
      }
    } finally {
      clearTimeout(this.timer);
      this.timer = undefined;
      const next = this.due.values().next();
      if (!next.done) this.wait(next.value - performance.now());
    }
  };
}
