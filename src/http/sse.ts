import type { FastifyReply, FastifyRequest } from 'fastify';
import { type AnswerRecorder, eventId } from '../domain/streams/answer-streams.ts';
import { DeadlineQueue } from '../domain/streams/deadline-queue.ts';
import { deferClientGone } from './client-gone.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Silence before a keep-alive comment (config CAUSERIE_SSE_HEARTBEAT_MS). */
    sseHeartbeatMs?: number;
  }
}

/** One SSE event as written (no id line, no blank line); data may span lines, each gets its own "data:" field. */
export function sseFrame(data: string, event?: string): string {
  const head = event ? `event: ${event}\n` : '';
  if (!data.includes('\n') && !data.includes('\r')) return `${head}data: ${data}`;
  return (
    head +
    data
      .split(/\r\n|\r|\n/)
      .map((line) => `data: ${line}`)
      .join('\n')
  );
}

/** Where a surface's rendering writes events: a live stream, or a collector of frames prepared in advance. */
export interface SseSink {
  send(data: string, event?: string): void;
  sendJson(value: unknown, event?: string): void;
}

/** Collects frames instead of sending them (the ending a resumed stream sends if its generator dies). */
export class FrameCollector implements SseSink {
  readonly frames: string[] = [];
  send(data: string, event?: string): void {
    this.frames.push(sseFrame(data, event));
  }
  sendJson(value: unknown, event?: string): void {
    this.send(JSON.stringify(value), event);
  }
}

/**
 * A Server-Sent Events response written straight to the socket. Sends a comment every
 * heartbeatMs of silence so proxies keep the connection. With a recorder, every event carries an
 * `id:` (answer:number) and goes to the event log, so a client can resume after a lost connection;
 * the log is fed even after this client left, as long as the answer goes on.
 *
 * A producer must `await drained()` between events: a reader slower than the model then slows the
 * model's stream instead of growing this process's memory.
 */
export class SseStream implements SseSink {
  private readonly reply: FastifyReply;
  private readonly recorder: AnswerRecorder | undefined;
  /** The streams with this one's heartbeat delay: one timer for all of them. */
  private readonly heartbeats: DeadlineQueue<SseStream>;
  /** The socket is gone or the response ended: nothing more is written to it. */
  private closed = false;
  private ended = false;
  /** The request's socket, while this stream listens for its close. */
  private socket: NodeJS.EventEmitter | undefined;
  /** Corked until the end of this turn (true) or until the loop's check phase (the immediate). */
  private corked: NodeJS.Immediate | boolean = false;
  private firstBytesSent = false;

  constructor(
    request: FastifyRequest,
    reply: FastifyReply,
    options: { headers?: Record<string, string>; heartbeatMs?: number; recorder?: AnswerRecorder } = {},
  ) {
    this.reply = reply;
    this.recorder = options.recorder;
    // Set by every write, starting with the headers'.
    this.heartbeats = SseStream.heartbeatsEvery(options.heartbeatMs ?? request.server.sseHeartbeatMs ?? 15_000);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      ...options.headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // A draining server ends the connection with the stream (headers are written here, not by the app's hook).
      connection: request.server.lifecycle?.draining ? 'close' : 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // The headers leave with the first events written in this turn (one write, not two); nothing is
    // waited for: an empty write sends them at the turn's end even when no event is ready.
    this.write('');
    // A recorded answer may outlive its client for a grace period, so someone can resume it.
    const recorder = this.recorder;
    if (recorder) deferClientGone(reply, (stop) => recorder.clientLeft(stop));
    this.socket = request.raw.socket;
    this.socket.on('close', this.onClose);
    raw.on('close', this.onClose);
  }

  private readonly onClose = () => this.stop();

  private static readonly heartbeatQueues = new Map<number, DeadlineQueue<SseStream>>();

  /** A comment after `ms` of silence (every write sets the stream's deadline again). */
  private static heartbeatsEvery(ms: number): DeadlineQueue<SseStream> {
    let queue = SseStream.heartbeatQueues.get(ms);
    if (!queue) {
      queue = new DeadlineQueue(ms, (stream) => stream.write(': keep-alive\n\n'));
      SseStream.heartbeatQueues.set(ms, queue);
    }
    return queue;
  }

  /** Whether the client is gone (or the stream ended): a producer with nothing to record can stop. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends one event (recorded, with an id, when this answer is resumable). */
  send(data: string, event?: string): void {
    this.sendFrame(sseFrame(data, event));
  }

  sendJson(value: unknown, event?: string): void {
    this.send(JSON.stringify(value), event);
  }

  private sendFrame(frame: string): void {
    if (this.ended) return;
    if (this.recorder) this.write(`id: ${eventId(this.recorder.answerId, this.recorder.record(frame))}\n${frame}\n\n`);
    else this.write(`${frame}\n\n`);
  }

  /** Sends an event read back from the event log, with its original id. */
  sendLogged(answerId: string, seq: number, frame: string): void {
    this.write(`id: ${eventId(answerId, seq)}\n${frame}\n\n`);
  }

  /** Sends frames that carry no id (a resumed stream's ending when its generator died). */
  sendFrames(frames: string[]): void {
    for (const frame of frames) this.write(`${frame}\n\n`);
  }

  /** Resolves when the socket can take more (at once unless its buffer is over the high-water mark). */
  drained(): Promise<void> | undefined {
    const raw = this.reply.raw;
    if (this.closed || !raw.writableNeedDrain) return undefined;
    return new Promise((resolve) => {
      const done = () => {
        raw.off('drain', done);
        raw.off('close', done);
        resolve();
      };
      raw.on('drain', done);
      raw.on('close', done);
    });
  }

  private write(chunk: string): void {
    if (this.closed) return;
    this.heartbeats.set(this);
    const raw = this.reply.raw;
    // Frames written in one turn of the event loop (an upstream packet often holds several tokens)
    // leave in one syscall: cork now, uncork once this turn's callbacks have run. The first bytes
    // (headers and first events) leave at the end of this callback: under a burst the check phase
    // comes only once every pending read of the loop has been handled, so waiting for it gave every
    // stream its first byte at the end of the burst. Later frames wait for it: under load, those
    // of several upstream reads then leave together.
    if (!this.corked) {
      raw.cork();
      if (this.firstBytesSent) this.corked = setImmediate(this.uncork);
      else {
        this.firstBytesSent = this.corked = true;
        process.nextTick(this.uncork);
      }
    }
    raw.write(chunk);
  }

  /** Sends what is corked. Must run no later than the turn the response ends in: a later uncork would hit the next response on a keep-alive socket. */
  private readonly uncork = () => {
    if (!this.corked) return;
    if (this.corked !== true) clearImmediate(this.corked);
    this.corked = false;
    this.reply.raw.uncork();
  };

  /** Ends the response and the answer's log (readers of a resumed stream then get its end). */
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    const open = !this.closed;
    // Ended while still corked: the last events and the end of the response leave in one write.
    if (open) this.reply.raw.end();
    this.stop();
    await this.recorder?.finish();
  }

  private stop(): void {
    this.uncork();
    this.closed = true;
    this.heartbeats.delete(this);
    // A keep-alive socket serves many requests: leaving the listener would pile one up per stream.
    this.socket?.off('close', this.onClose);
    this.socket = undefined;
  }
}
