import type { Redis } from 'ioredis';
import {
  type AnswerMeta,
  type EventLog,
  type LoggedEvent,
  type LogRead,
  maxLoggedEvents,
} from '../../domain/streams/event-log.ts';

type StreamReply = Array<[key: string, entries: Array<[id: string, fields: string[]]>]> | null;

/**
 * The event log of cluster mode, in Redis Streams: one stream per answer. The events appended in
 * one turn of the event loop (an upstream packet often holds several) go in one entry, whose id is
 * the number of its last event (`<seq>-0`) and whose fields are `f <frame>` per event; so reading
 * "after event n" is one XREAD from `n-0` (the entry holding n+1 is the first returned). Appends
 * are XADD with an approximate MAXLEN; the end is an entry with an `e` field, after which the
 * stream and its meta expire. Readers that wait block in XREAD on a connection of their own (a
 * blocking command holds its connection), taken from a small pool.
 */
export class RedisEventLog implements EventLog {
  readonly kind = 'redis';
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly warn: (message: string) => void;
  private readonly idle: Redis[] = [];
  private readonly blocking = new Set<Redis>();
  /** Events appended in this turn of the event loop, per answer: its last number and its frames. */
  private pending = new Map<string, { lastSeq: number; frames: string[] }>();
  private flushing: NodeJS.Immediate | undefined;

  constructor(redis: Redis, options: { prefix: string; warn?: (message: string) => void }) {
    this.redis = redis;
    this.prefix = `${options.prefix}answer:`;
    this.warn = options.warn ?? (() => {});
  }

  private key(answerId: string, part?: string) {
    return part ? `${this.prefix}${answerId}:${part}` : `${this.prefix}${answerId}`;
  }

  private report = (error: Error) => this.warn(`event log: ${error.message}`);

  open(answerId: string, meta: AnswerMeta, ttlMs: number): void {
    const stream = this.key(answerId);
    // An opening entry (id 0-1, before every event) creates the stream so its lifetime can be set now.
    this.redis.xadd(stream, '0-1', 'o', '1').catch(this.report);
    this.redis.pexpire(stream, ttlMs).catch(this.report);
    this.redis.set(this.key(answerId, 'meta'), JSON.stringify(meta), 'PX', ttlMs).catch(this.report);
  }

  append(answerId: string, seq: number, frame: string): void {
    const batch = this.pending.get(answerId);
    if (batch) {
      batch.lastSeq = seq;
      batch.frames.push(frame);
    } else {
      this.pending.set(answerId, { lastSeq: seq, frames: [frame] });
    }
    this.flushing ??= setImmediate(this.flush);
  }

  private readonly flush = () => {
    this.flushing = undefined;
    const batches = this.pending;
    this.pending = new Map();
    for (const [answerId, { lastSeq, frames }] of batches) {
      const fields: string[] = [];
      for (const frame of frames) fields.push('f', frame);
      this.redis.xadd(this.key(answerId), 'MAXLEN', '~', maxLoggedEvents, `${lastSeq}-0`, ...fields).catch(this.report);
    }
  };

  async end(answerId: string, keepMs: number): Promise<void> {
    // The last events first: the end must follow them.
    if (this.pending.has(answerId)) this.flush();
    const stream = this.key(answerId);
    // Redis picks the id (the time in ms), always above the small event numbers.
    await Promise.all([
      this.redis.xadd(stream, '*', 'e', '1'),
      this.redis.pexpire(stream, keepMs),
      this.redis.pexpire(this.key(answerId, 'meta'), keepMs),
      this.redis.del(this.key(answerId, 'generator')),
    ]);
  }

  async meta(answerId: string): Promise<AnswerMeta | undefined> {
    const text = await this.redis.get(this.key(answerId, 'meta'));
    return text ? (JSON.parse(text) as AnswerMeta) : undefined;
  }

  async read(answerId: string, afterSeq: number, waitMs: number): Promise<LogRead> {
    const stream = this.key(answerId);
    const from = `${afterSeq}-0`;
    let reply: StreamReply;
    if (waitMs <= 0) {
      reply = (await this.redis.xread('COUNT', 1000, 'STREAMS', stream, from)) as StreamReply;
    } else {
      const connection = this.idle.pop() ?? this.blockingConnection();
      this.blocking.add(connection);
      try {
        reply = (await connection.xread('COUNT', 1000, 'BLOCK', waitMs, 'STREAMS', stream, from)) as StreamReply;
      } finally {
        this.blocking.delete(connection);
        if (this.idle.length < 8) this.idle.push(connection);
        else connection.disconnect();
      }
    }
    const events: LoggedEvent[] = [];
    let ended = false;
    for (const [id, fields] of reply?.[0]?.[1] ?? []) {
      if (fields[0] === 'e') {
        ended = true;
        break;
      }
      if (fields[0] !== 'f') continue;
      const count = fields.length / 2;
      const firstSeq = Number(id.slice(0, id.indexOf('-'))) - count + 1;
      for (let index = 0; index < count; index++) {
        const seq = firstSeq + index;
        if (seq > afterSeq) events.push({ seq, frame: fields[index * 2 + 1]! });
      }
    }
    return { events, ended, trimmed: events.length > 0 && events[0]!.seq > afterSeq + 1 };
  }

  /** A connection for blocking reads; its trouble is reported by the main connection. */
  private blockingConnection(): Redis {
    const connection = this.redis.duplicate();
    connection.on('error', () => {});
    return connection;
  }

  mark(answerId: string, who: 'generator' | 'reader', ttlMs: number): void {
    this.redis.set(this.key(answerId, who), '1', 'PX', ttlMs).catch(this.report);
  }

  async isMarked(answerId: string, who: 'generator' | 'reader'): Promise<boolean> {
    return (await this.redis.exists(this.key(answerId, who))) === 1;
  }

  async close(): Promise<void> {
    if (this.flushing) clearImmediate(this.flushing);
    this.flush();
    for (const connection of [...this.idle, ...this.blocking]) connection.disconnect();
    this.idle.length = 0;
    await this.redis.quit().catch(() => {});
  }
}
