import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AnswerMeta } from '../domain/streams/event-log.ts';
import type { AnswerRecorder, AnswerStreams } from '../domain/streams/answer-streams.ts';
import type { App } from './app.ts';
import { SseStream } from './sse.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Resumable answers (absent in apps built without them). */
    answerStreams?: AnswerStreams;
  }
  interface FastifyContextConfig {
    /** The route streams answers a client may resume by sending the same request with Last-Event-ID. */
    resumable?: boolean;
  }
}

/**
 * Who may resume an answer: the authenticated user, or on the public surface whoever holds the
 * conversation's token (kept as a digest).
 */
export function streamOwner(request: FastifyRequest): string {
  if (request.principal) return `user:${request.principal.userId}`;
  const token = (request.body as { client_token?: unknown } | undefined)?.client_token;
  if (typeof token === 'string') return `public:${createHash('sha256').update(token).digest('base64url')}`;
  return 'nobody';
}

/** Starts recording the answer this request streams, when the app has resumable answers (`meta` is built only then). */
export function recordAnswer(
  request: FastifyRequest,
  meta: () => Omit<AnswerMeta, 'owner'>,
): AnswerRecorder | undefined {
  return request.server.answerStreams?.begin({ owner: streamOwner(request), ...meta() });
}

/** The id of the last event a reconnecting client read: the Last-Event-ID header, or `last_event_id` in the query (EventSource polyfills). */
export function lastEventIdOf(request: FastifyRequest): string | undefined {
  const header = request.headers['last-event-id'];
  if (typeof header === 'string' && header !== '') return header;
  const query = request.url.indexOf('?');
  if (query < 0) return undefined;
  return new URLSearchParams(request.url.slice(query + 1)).get('last_event_id') ?? undefined;
}

const resumableNote =
  'Streamed answers are resumable: every event has an id; after a lost connection, send the same request again ' +
  'with the last id read in a Last-Event-ID header (or a last_event_id query parameter) to get the rest of the ' +
  'answer, on any server, while it runs and for CAUSERIE_STREAM_RESUME_SECONDS after it ended (410 stream_not_resumable after).';

/**
 * On routes marked resumable, a request that carries Last-Event-ID continues the answer that id
 * belongs to instead of starting a new one. It runs before the body is validated (the resent
 * request need not be checked again) and after authentication.
 */
export function registerResume(app: App, streams: AnswerStreams): void {
  app.decorate('answerStreams', streams);
  // The OpenAPI document says so on every resumable route (the hook itself is invisible to it).
  app.addHook('onRoute', (route) => {
    if (route.config?.resumable !== true || !route.schema) return;
    const description = route.schema.description ? `${route.schema.description} ` : '';
    route.schema.description = `${description}${resumableNote}`;
  });
  // A callback, not an async function: every request runs it, and a promise per request adds up.
  // Once the resumed stream is sent, Fastify runs nothing more for the request (the reply is sent).
  app.addHook('preValidation', (request, reply, done) => {
    if (request.routeOptions.config?.resumable !== true) return done();
    const lastEventId = lastEventIdOf(request);
    if (lastEventId === undefined) return done();
    sendResumed(request, reply, streams, lastEventId).then(() => done(), done);
  });
}

/** Streams the rest of an answer from the event log, ending as the original did (or with its generator's loss). */
async function sendResumed(
  request: FastifyRequest,
  reply: FastifyReply,
  streams: AnswerStreams,
  lastEventId: string,
): Promise<void> {
  // Errors here (unknown answer, someone else's) are still proper HTTP errors: nothing is sent yet.
  const { answerId, finished, items } = await streams.resume(streamOwner(request), lastEventId);
  // Read to the end already: 204 is what tells an EventSource to stop reconnecting.
  if (finished) {
    await reply.code(204).send();
    return;
  }
  const sse = new SseStream(request, reply);
  try {
    for await (const item of items) {
      if (sse.isClosed) break;
      if (item.kind === 'lost') sse.sendFrames(item.frames);
      else sse.sendLogged(answerId, item.event.seq, item.event.frame);
      await sse.drained();
    }
  } catch (error) {
    // The log failed (Redis gone, say): the stream ends without its last events; the client can resume again.
    request.log.warn({ err: error }, 'resumed stream failed');
  } finally {
    await sse.end();
  }
}
