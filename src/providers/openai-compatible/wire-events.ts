import { ProviderError } from '../provider-error.ts';
import type { FinishReason, ProviderStreamEvent, Usage } from '../provider.ts';
import { scrub, transportError, type UpstreamIdentity } from './upstream-errors.ts';

/** The parts of an OpenAI chat.completion(.chunk) this adapter reads. */
interface WireToolCall {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}
interface WireChoice {
  delta?: { role?: string; content?: string | null; tool_calls?: WireToolCall[] };
  message?: { content?: string | null; tool_calls?: WireToolCall[] };
  finish_reason?: string | null;
}
interface WireBody {
  choices?: WireChoice[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string } | string;
}

const finishReasons = new Set<FinishReason>(['stop', 'length', 'tool_calls', 'content_filter']);

/** Upstream finish reasons, normalized ("eos" and other vendor words count as a plain stop). */
export function toFinishReason(raw: string | null | undefined): FinishReason {
  if (raw === 'function_call') return 'tool_calls';
  if (raw === 'model_length') return 'length';
  return raw && finishReasons.has(raw as FinishReason) ? (raw as FinishReason) : 'stop';
}

// A provider's JSON is not trusted to have the types it should: a count that is not a
// non-negative integer is no count (Causerie then counts itself), text that is not a string is no text.
const tokenCount = (value: unknown) =>
  Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : undefined;
const textOf = (value: unknown) => (typeof value === 'string' ? value : '');
const firstChoice = (body: WireBody) => (Array.isArray(body.choices) ? body.choices[0] : undefined);

const toUsage = (raw: WireBody['usage']): Usage | undefined => {
  const prompt = tokenCount(raw?.prompt_tokens);
  return prompt === undefined
    ? undefined
    : { prompt_tokens: prompt, completion_tokens: tokenCount(raw?.completion_tokens) ?? 0 };
};

/** An upstream's in-body error, as the caller sees it: its key masked (as for HTTP errors), at most 300 characters. */
const upstreamErrorMessage = (error: WireBody['error'], who: UpstreamIdentity) => {
  const text = scrub(
    String((typeof error === 'string' ? error : error?.message) || 'the provider reported an error mid-answer'),
    who.secret,
  );
  return text.length > 300 ? `${text.slice(0, 300)}\u2026` : text;
};

/** The events of a non-streamed chat.completion body, in stream order (usage, then finish, last). */
export function* eventsOfCompletion(body: WireBody, who: UpstreamIdentity): Generator<ProviderStreamEvent> {
  if (body.error) {
    yield {
      type: 'error',
      error: new ProviderError(
        who.provider,
        'failed',
        `Provider "${who.provider}": ${upstreamErrorMessage(body.error, who)}`,
      ),
    };
    return;
  }
  const choice = firstChoice(body);
  const content = textOf(choice?.message?.content);
  if (content) yield { type: 'text-delta', text: content };
  const calls = choice?.message?.tool_calls ?? [];
  for (let index = 0; index < calls.length; index++) {
    const call = calls[index]!;
    yield {
      type: 'tool-call-delta',
      index,
      id: call.id,
      name: call.function?.name,
      arguments: call.function?.arguments ?? '',
    };
  }
  const usage = toUsage(body.usage);
  if (usage) yield { type: 'usage', usage };
  yield { type: 'finish', reason: toFinishReason(choice?.finish_reason) };
}

/** Merged text goes out once this long: a slow reader's buffer then holds at most about one such event more. */
const maxMergedText = 16_384;

/**
 * Parses an upstream SSE body incrementally into events. It holds back the finish reason so the
 * stream always ends "usage (if reported), finish", reads to the end of the body so the
 * connection goes back to the pool, and turns failures after the first byte into an error event.
 * When the caller aborts, it ends quietly.
 *
 * Text deltas that arrive in one read of the body are yielded as one event (decision 027): every
 * event costs the same work downstream (usage, event log, SSE frame, socket write) whatever its
 * length. A tool-call delta, an error, a role change, a finish reason or usage ends the text
 * gathered so far, so order and text are unchanged; so does reaching `maxMergedText`.
 */
export async function* eventsOfSse(
  body: AsyncIterable<string> & { setEncoding(encoding: 'utf8'): unknown },
  who: UpstreamIdentity,
  signal: AbortSignal,
  timeouts: { connectMs: number; firstByteMs: number; idleMs: number },
): AsyncGenerator<ProviderStreamEvent> {
  body.setEncoding('utf8');
  let buffer = '';
  let data: string | undefined;
  let finish: FinishReason | undefined;
  let usage: Usage | undefined;
  let done = false;
  /** Text of this read not yet yielded, and the role it was written under. */
  let text = '';
  let role: string | undefined;
  try {
    for await (const chunk of body) {
      if (done) continue; // drain what follows [DONE] so the connection can be reused
      buffer = buffer ? buffer + chunk : chunk;
      let start = 0;
      for (let newline = buffer.indexOf('\n'); newline !== -1; newline = buffer.indexOf('\n', start)) {
        let line = buffer.slice(start, newline);
        start = newline + 1;
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line.startsWith('data:')) {
          const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
          data = data === undefined ? value : `${data}\n${value}`;
          continue;
        }
        if (line !== '' || data === undefined) continue; // comments, event:, id:, retry: carry nothing we use
        const payload = data;
        data = undefined;
        if (payload === '[DONE]') {
          done = true;
          break;
        }
        const parsed = JSON.parse(payload) as WireBody;
        if (parsed.error) {
          if (text) yield { type: 'text-delta', text };
          text = '';
          yield {
            type: 'error',
            error: new ProviderError(
              who.provider,
              'failed',
              `Provider "${who.provider}": ${upstreamErrorMessage(parsed.error, who)}`,
            ),
          };
          return;
        }
        const choice = firstChoice(parsed);
        if (choice) {
          const delta = choice.delta;
          if (delta?.role !== undefined && delta.role !== role) {
            if (text) yield { type: 'text-delta', text };
            text = '';
            role = delta.role;
          }
          text += textOf(delta?.content);
          if (text.length >= maxMergedText) {
            yield { type: 'text-delta', text };
            text = '';
          }
          if (delta?.tool_calls) {
            if (text) yield { type: 'text-delta', text };
            text = '';
            for (const call of delta.tool_calls) {
              yield {
                type: 'tool-call-delta',
                index: call.index ?? 0,
                id: call.id,
                name: call.function?.name,
                arguments: call.function?.arguments,
              };
            }
          }
          if (choice.finish_reason) finish = toFinishReason(choice.finish_reason);
        }
        if (parsed.usage) usage = toUsage(parsed.usage) ?? usage;
        if (text && (choice?.finish_reason || parsed.usage)) {
          yield { type: 'text-delta', text };
          text = '';
        }
      }
      buffer = done ? '' : buffer.slice(start);
      if (text) yield { type: 'text-delta', text };
      text = '';
    }
  } catch (error) {
    if (signal.aborted) return;
    // A malformed chunk: the text before it in the same read still goes out, before the error.
    if (text) yield { type: 'text-delta', text };
    const failure =
      error instanceof SyntaxError
        ? new ProviderError(who.provider, 'failed', `Provider "${who.provider}" sent a malformed stream chunk`)
        : transportError(who, error, timeouts);
    yield { type: 'error', error: failure };
    return;
  }
  if (signal.aborted) return;
  if (!done && finish === undefined) {
    yield {
      type: 'error',
      error: new ProviderError(
        who.provider,
        'failed',
        `Provider "${who.provider}" closed the stream before the answer was complete`,
      ),
    };
    return;
  }
  if (usage) yield { type: 'usage', usage };
  yield { type: 'finish', reason: finish ?? 'stop' };
}
