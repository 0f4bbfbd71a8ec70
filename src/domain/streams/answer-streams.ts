import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.ts';
import { DeadlineQueue } from './deadline-queue.ts';
import { type AnswerMeta, type EventLog, flatText, type LoggedEvent } from './event-log.ts';

export interface AnswerStreamsOptions {
  log: EventLog;
  /** How long an answer stays resumable after it ended. */
  keepMs: number;
  /** The longest an answer runs (its log lives this long unless ended sooner). */
  maxAnswerMs: number;
  /** The generator refreshes its presence this often × 3; a reader notices its death within this. */
  livenessMs: number;
  /** How long an answer goes on once its client left and nobody resumed it; 0 stops it at once. */
  graceMs: number;
  /** Settles what a dead generator left (its reply stored as error, its conversation freed). */
  onAbandoned?: (meta: AnswerMeta) => Promise<void>;
  warn?: (message: string) => void;
}

/** An SSE event id: the answer, then the event's number in it. */
export const eventId = (answerId: string, seq: number) => `${answerId}:${seq}`;

const idPattern = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):(\d{1,9})$/;

/** Reads a Last-Event-ID back; undefined when it is not one of ours. */
export function parseEventId(text: string): { answerId: string; seq: number } | undefined {
  const match = idPattern.exec(text.trim());
  return match ? { answerId: match[1]!, seq: Number(match[2]) } : undefined;
}

/** How often a generator refreshes its presence mark (and a reader checks it): three times per mark's life. */
const presenceEveryMs = (livenessMs: number) => Math.max(50, Math.floor(livenessMs / 3));

/** What the rest of a resumed answer is: logged events, then possibly the frames that say its generator died. */
export type ResumedItem = { kind: 'event'; event: LoggedEvent } | { kind: 'lost'; frames: string[] };

/**
 * Streamed answers that can be resumed. The stream writing an answer records each event in the
 * event log (`begin`), and refreshes a short presence mark while its process lives; a client that
 * reconnects with the id of the last event it read gets the following ones from the log (`resume`),
 * on any node, waiting for new ones while the answer runs. A reader that finds the presence mark
 * gone before the end knows the generating process died: it settles the reply and ends with the
 * frames the generator prepared for that case.
 */
export class AnswerStreams {
  private readonly options: AnswerStreamsOptions;
  /** The presence beats of the answers being recorded: one timer for all. */
  private readonly beats: DeadlineQueue<AnswerRecorder>;

  constructor(options: AnswerStreamsOptions) {
    this.options = options;
    this.beats = new DeadlineQueue(presenceEveryMs(options.livenessMs), (recorder) => recorder.beat());
  }

  get log(): EventLog {
    return this.options.log;
  }

  /** Starts recording a new answer. */
  begin(meta: AnswerMeta): AnswerRecorder {
    return new AnswerRecorder(this.options, meta, this.beats);
  }

  /**
   * The events after `lastEventId` of an answer `owner` may read (`finished`: there are none, the
   * client had read it all). Throws stream_not_resumable
   * (before any byte is sent) when the answer is unknown, expired, someone else's, or trimmed.
   */
  async resume(
    owner: string,
    lastEventId: string,
  ): Promise<{ answerId: string; finished: boolean; items: AsyncIterable<ResumedItem> }> {
    const parsed = parseEventId(lastEventId);
    if (!parsed) throw new AppError('validation_failed', 'Last-Event-ID: is not an event id of this server');
    const { answerId, seq } = parsed;
    const meta = await this.options.log.meta(answerId);
    if (!meta || meta.owner !== owner) throw notResumable();
    const first = await this.options.log.read(answerId, seq, 0);
    if (first.trimmed) throw notResumable();
    const finished = first.ended && first.events.length === 0;
    return { answerId, finished, items: this.follow(answerId, meta, seq, first) };
  }

  private async *follow(
    answerId: string,
    meta: AnswerMeta,
    afterSeq: number,
    first: Awaited<ReturnType<EventLog['read']>>,
  ): AsyncGenerator<ResumedItem> {
    const { log, livenessMs } = this.options;
    const waitMs = presenceEveryMs(livenessMs);
    let read = first;
    let after = afterSeq;
    // Two checks in a row without the generator's mark, a wait apart: one missed refresh (a busy
    // event loop over there) is not a death.
    let misses = 0;
    while (true) {
      for (const event of read.events) {
        after = event.seq;
        yield { kind: 'event', event };
      }
      if (read.ended) return;
      log.mark(answerId, 'reader', livenessMs);
      if (read.events.length > 0 || (await log.isMarked(answerId, 'generator'))) misses = 0;
      else misses++;
      if (misses >= 2) {
        // Gone, unless it ended (or wrote) between our read and the check.
        const last = await log.read(answerId, after, 0);
        for (const event of last.events) yield { kind: 'event', event };
        if (last.ended) return;
        await this.options
          .onAbandoned?.(meta)
          .catch((error: Error) =>
            this.options.warn?.(`answer streams: cannot settle an abandoned answer: ${error.message}`),
          );
        yield { kind: 'lost', frames: meta.lostFrames };
        return;
      }
      read = await log.read(answerId, after, waitMs);
    }
  }
}

const notResumable = () =>
  new AppError(
    'stream_not_resumable',
    'This answer cannot be resumed: it is unknown, ended too long ago, or not yours; read the stored message instead',
  );

/**
 * One answer being recorded: numbers its events, appends them to the log, and keeps its presence
 * mark fresh until the answer ends. When the client leaves, `clientLeft` decides when to stop it.
 */
export class AnswerRecorder {
  /** Flat: it is written into every event id and kept as the log's key. */
  readonly answerId = flatText(randomUUID());
  private readonly options: AnswerStreamsOptions;
  private seq = 0;
  private readonly beats: DeadlineQueue<AnswerRecorder>;
  private unattendedSince: number | undefined;
  private stopAnswer: (() => void) | undefined;
  private ended = false;

  constructor(options: AnswerStreamsOptions, meta: AnswerMeta, beats: DeadlineQueue<AnswerRecorder>) {
    this.options = options;
    this.beats = beats;
    const { log, livenessMs } = options;
    log.open(this.answerId, meta, options.maxAnswerMs + options.keepMs);
    log.mark(this.answerId, 'generator', livenessMs);
    beats.set(this);
  }

  /** Logs an event and returns its number. */
  record(frame: string): number {
    this.seq += 1;
    this.options.log.append(this.answerId, this.seq, frame);
    return this.seq;
  }

  /**
   * The client of this stream left: `stop` ends the answer once nobody has read it for the grace
   * period (at once without one). A client that resumes anywhere in time keeps it going.
   */
  clientLeft(stop: () => void): void {
    if (this.ended) return;
    if (this.options.graceMs <= 0) {
      stop();
      return;
    }
    this.stopAnswer = stop;
    this.unattendedSince = Date.now();
  }

  /** Refreshes the presence mark (and, once the client left, checks whether anyone still reads). */
  beat(): void {
    if (this.ended) return;
    this.beats.set(this);
    const { log, livenessMs, graceMs } = this.options;
    log.mark(this.answerId, 'generator', livenessMs);
    if (!this.stopAnswer) return;
    void log.isMarked(this.answerId, 'reader').then(
      (read) => {
        if (read) this.unattendedSince = undefined;
        else if (this.unattendedSince === undefined) this.unattendedSince = Date.now();
        else if (Date.now() - this.unattendedSince >= graceMs) this.stopAnswer?.();
      },
      () => {},
    );
  }

  /** The answer ended: readers get the end, and the log is kept for the resumable period. */
  async finish(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.beats.delete(this);
    await this.options.log
      .end(this.answerId, this.options.keepMs)
      .catch((error: Error) => this.options.warn?.(`answer streams: cannot end an answer's log: ${error.message}`));
  }
}
