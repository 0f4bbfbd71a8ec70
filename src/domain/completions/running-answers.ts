import { AppError } from '../errors.ts';
import { DeadlineQueue } from '../streams/deadline-queue.ts';

/** Whose answer is running: the user, and the key the request came with. */
export interface AnswerOwner {
  userId: number;
  apiKeyId?: number;
}

/** A running answer; it is also the listener of its caller's signal (handleEvent: no closure and context of ours per answer). */
class Run implements AnswerOwner {
  readonly userId: number;
  readonly apiKeyId: number | undefined;
  readonly controller = new AbortController();
  readonly callerSignal: AbortSignal;

  constructor(owner: AnswerOwner, callerSignal: AbortSignal) {
    this.userId = owner.userId;
    this.apiKeyId = owner.apiKeyId;
    this.callerSignal = callerSignal;
  }

  handleEvent(): void {
    this.controller.abort(this.callerSignal.reason);
  }
}

/**
 * The answers this process is generating. Revoking a key or disabling a user stops theirs at once
 * (a credential that is no longer valid must not keep receiving text), and no answer runs longer
 * than `maxAnswerMs`. In cluster mode every node hears revocations (the cluster events) and stops
 * the answers it runs itself.
 */
export class RunningAnswers {
  private readonly runs = new Set<Run>();
  /** Writes that finish an answer after its model call ended (its stored reply); a shutdown waits for them. */
  private readonly finishing = new Set<Promise<unknown>>();
  /** The longest an answer runs: one timer for every running one. */
  private readonly tooLong: DeadlineQueue<Run>;
  private emptied: (() => void) | undefined;

  constructor(options: { maxAnswerMs: number }) {
    this.tooLong = new DeadlineQueue(options.maxAnswerMs, (run) => {
      // An AppError, so an answer not yet begun is a 504 in the caller's shape rather than a 500.
      run.controller.abort(
        new AppError('upstream_timeout', 'The answer ran longer than CAUSERIE_MAX_ANSWER_SECONDS allows'),
      );
      // Even a run whose events were never read leaves the registry here.
      this.remove(run);
    });
  }

  /** Registers an answer: its signal aborts with the caller's, when stopped, or when too long. Call done() when it ends. */
  start(owner: AnswerOwner, callerSignal: AbortSignal): { signal: AbortSignal; done(): void } {
    const run = new Run(owner, callerSignal);
    if (callerSignal.aborted) run.handleEvent();
    else callerSignal.addEventListener('abort', run, { once: true });
    this.tooLong.set(run);
    this.runs.add(run);
    return {
      signal: run.controller.signal,
      done: () => {
        callerSignal.removeEventListener('abort', run);
        this.remove(run);
      },
    };
  }

  /** Counts `work` (an answer's last writes) as part of the running answers until it settles. */
  finish(work: Promise<unknown>): void {
    const tracked = work.then(
      () => {},
      () => {},
    );
    this.finishing.add(tracked);
    void tracked.then(() => {
      this.finishing.delete(tracked);
      this.notifyIfIdle();
    });
  }

  /**
   * Resolves once no answer runs and every answer's last writes are done: a shutdown waits for this
   * before closing the stores, so no reply is left `streaming` and no usage row goes unwritten.
   */
  async settled(): Promise<void> {
    while (this.runs.size > 0 || this.finishing.size > 0) {
      await new Promise<void>((resolve) => {
        this.emptied = resolve;
      });
    }
  }

  private remove(run: Run): void {
    this.tooLong.delete(run);
    this.runs.delete(run);
    this.notifyIfIdle();
  }

  private notifyIfIdle(): void {
    if (this.runs.size > 0 || this.finishing.size > 0) return;
    const emptied = this.emptied;
    this.emptied = undefined;
    emptied?.();
  }

  stopUser(userId: number): number {
    return this.stop((run) => run.userId === userId);
  }

  stopKeys(keyIds: number[]): number {
    const ids = new Set(keyIds);
    return this.stop((run) => run.apiKeyId !== undefined && ids.has(run.apiKeyId));
  }

  /** Stops every answer (the end of a shutdown's grace period): each is kept as it stands, cancelled. */
  stopAll(): number {
    return this.stop(() => true, 'the server is shutting down');
  }

  get size(): number {
    return this.runs.size;
  }

  private stop(matches: (run: Run) => boolean, why = 'the credential behind this answer was revoked'): number {
    let stopped = 0;
    for (const run of this.runs) {
      if (!matches(run)) continue;
      run.controller.abort(new Error(why));
      stopped++;
    }
    return stopped;
  }
}
