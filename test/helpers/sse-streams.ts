/**
 * Reading resumable Server-Sent Events the way a reconnecting client does: each event with its
 * `id:`, a stream dropped after a chosen number of events, and the same request sent again with
 * Last-Event-ID (as a header, or as the `last_event_id` query parameter EventSource polyfills use).
 * Shared by the resumption tests and the tests behind a load balancer.
 */

export interface SseEventWithId {
  id?: string;
  event: string;
  data: string;
}

/** Parses an SSE body per the standard: data lines joined by "\n", comments skipped, `id` kept per event. */
export function parseSseWithIds(text: string): SseEventWithId[] {
  const events: SseEventWithId[] = [];
  let data: string[] = [];
  let event = 'message';
  let id: string | undefined;
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (data.length) events.push({ ...(id === undefined ? {} : { id }), event, data: data.join('\n') });
      data = [];
      event = 'message';
      id = undefined;
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id') id = value;
  }
  return events;
}

export interface StreamRequest {
  url: string;
  method?: string;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ReadStream {
  status: number;
  headers: Headers;
  events: SseEventWithId[];
  /** The id of the last event read that had one. */
  lastEventId: string | undefined;
  /** Whether the stream ended by itself (false when we dropped it). */
  ended: boolean;
  /** The body when the answer was not a stream (an error). */
  text: string;
}

/**
 * Sends a streaming request and reads its events; with `dropAfter`, hangs up once that many
 * events have arrived, like a client whose connection broke.
 */
export async function readSseStream(request: StreamRequest, options: { dropAfter?: number } = {}): Promise<ReadStream> {
  const controller = new AbortController();
  const response = await fetch(request.url, {
    method: request.method ?? (request.body === undefined ? 'GET' : 'POST'),
    signal: controller.signal,
    headers: {
      accept: 'text/event-stream',
      ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...request.headers,
    },
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
  });
  const result: ReadStream = {
    status: response.status,
    headers: response.headers,
    events: [],
    lastEventId: undefined,
    ended: false,
    text: '',
  };
  if (!String(response.headers.get('content-type')).startsWith('text/event-stream')) {
    result.text = await response.text();
    result.ended = true;
    return result;
  }
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  while (true) {
    const { value, done } = await reader.read();
    if (done) {
      result.ended = true;
      break;
    }
    buffer += decoder.decode(value, { stream: true });
    // Only whole events (up to the last blank line) are counted.
    const cut = buffer.lastIndexOf('\n\n');
    if (cut < 0) continue;
    const events = parseSseWithIds(buffer.slice(0, cut + 2));
    buffer = buffer.slice(cut + 2);
    for (const event of events) {
      result.events.push(event);
      if (event.id !== undefined) result.lastEventId = event.id;
      if (options.dropAfter !== undefined && result.events.length >= options.dropAfter) {
        controller.abort();
        await reader.cancel().catch(() => {});
        return result;
      }
    }
  }
  return result;
}

/** Sends the same request again with the last event id read, and reads the rest of the answer. */
export function resumeSseStream(
  request: StreamRequest,
  lastEventId: string,
  options: { via?: 'header' | 'query'; dropAfter?: number } = {},
): Promise<ReadStream> {
  if (options.via === 'query') {
    const url = new URL(request.url);
    url.searchParams.set('last_event_id', lastEventId);
    return readSseStream({ ...request, url: url.toString() }, options);
  }
  return readSseStream({ ...request, headers: { ...request.headers, 'last-event-id': lastEventId } }, options);
}

/** Every event of an answer read in pieces, in order: the first read's, then each resumption's. */
export const joinedEvents = (...reads: ReadStream[]) => reads.flatMap((read) => read.events);
