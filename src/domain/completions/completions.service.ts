import type { ChatRequest, Provider, ProviderStreamEvent, StreamEvent, Usage } from '../../providers/provider.ts';
import { isoAt, type Clock } from '../clock.ts';
import { AppError, invalid } from '../errors.ts';
import type { Admission, LimitsGate } from '../limits/limits.types.ts';
import type { ModelEntry, ModelsService } from '../models/models.service.ts';
import type { UsageStore } from '../usage/usage.store.ts';
import type { Actor } from '../users/users.service.ts';
import type { CompletionInput, CompletionRun, Completions } from './completions.types.ts';
import { estimateTextTokens, promptTokens, tokenCounterOf } from './token-budget.ts';
import { costMicros, ProducedText } from './usage-meter.ts';
import { ProviderError } from '../../providers/provider-error.ts';
import { fromProvider } from './provider-failures.ts';
import type { RunningAnswers } from './running-answers.ts';

export interface CompletionsDeps {
  models: ModelsService;
  limits: LimitsGate;
  /** The usage ledger (usage_records). */
  usage: Pick<UsageStore, 'insert'>;
  clock: Clock;
  /** Every answer is registered here while it runs, to be stopped on revocation or when too long. */
  running: RunningAnswers;
  /** Where a failure to write the ledger is reported (the answer itself is not failed for it). */
  warn?: (message: string) => void;
}

/** What a completion reserves when the caller sets no max_tokens and the model has no known window. */
const defaultReservedCompletionTokens = 4096;

type Outcome = 'complete' | 'cancelled' | 'error';

export interface EmbeddingsInput {
  model: string;
  input: string[];
}

export interface EmbeddingsResult {
  model: string;
  embeddings: number[][];
  usage: Usage;
}

function validate(input: CompletionInput, entry: ModelEntry): void {
  if (!input.messages.length) throw invalid('messages', 'must hold at least one message');
  if (input.temperature !== undefined && !(input.temperature >= 0 && input.temperature <= 2))
    throw invalid('temperature', 'must be between 0 and 2');
  if (input.top_p !== undefined && !(input.top_p > 0 && input.top_p <= 1))
    throw invalid('top_p', 'must be greater than 0 and at most 1');
  if (input.max_tokens !== undefined && !(Number.isInteger(input.max_tokens) && input.max_tokens >= 1))
    throw invalid('max_tokens', 'must be a positive integer');
  if (input.max_tokens !== undefined && entry.contextWindow && input.max_tokens > entry.contextWindow) {
    throw invalid('max_tokens', `must be at most ${entry.contextWindow}, the context window of ${entry.id}`);
  }
  if (entry.source === 'config' && !entry.capabilities.includes('chat'))
    throw invalid('model', `${entry.id} does not do chat completions`);
}

/**
 * Runs completions for every surface: resolves the public model id, asks the limits for an
 * admission, starts the provider stream, and when the stream ends, fails or is abandoned, writes
 * exactly one usage row and settles the admission with what was actually used.
 */
export class CompletionsService implements Completions {
  private readonly deps: CompletionsDeps;

  constructor(deps: CompletionsDeps) {
    this.deps = deps;
  }

  async start(actor: Actor, input: CompletionInput, options: { signal: AbortSignal }): Promise<CompletionRun> {
    // A caller already gone (it may have left while it was authenticated) is neither admitted nor charged.
    if (options.signal.aborted) throw options.signal.reason;
    const { entry, provider } = await this.deps.models.resolve(input.model);
    validate(input, entry);
    const promptEstimate = await promptTokens(tokenCounterOf(provider, entry.upstream), input.messages);
    const reservedCompletion =
      input.max_tokens ??
      (entry.contextWindow ? Math.max(entry.contextWindow - promptEstimate, 1) : defaultReservedCompletionTokens);
    const reserve = { prompt_tokens: promptEstimate, completion_tokens: reservedCompletion };
    if (options.signal.aborted) throw options.signal.reason;
    const admission = await this.deps.limits.admit({
      actor,
      model: entry.id,
      reserveTokens: promptEstimate + reservedCompletion,
      reserveCostMicros: costMicros(reserve, entry.prices),
      stream: input.stream,
      // Lets a nearly used-up token quota grant what is left, with the answer capped to fit.
      promptTokens: promptEstimate,
    });
    // From here on the answer is registered: it stops with the caller, on revocation, or when too long.
    const running = this.deps.running.start(actor, options.signal);
    const { signal } = running;
    const ledger = new Ledger(this.deps, {
      actor,
      entry,
      provider,
      admission,
      conversationId: input.conversationId,
      onRecorded: running.done,
    });
    let source: AsyncIterable<ProviderStreamEvent>;
    let request: ChatRequest;
    try {
      if (signal.aborted) throw signal.reason;
      request = {
        model: entry.upstream,
        messages: input.messages,
        temperature: input.temperature,
        top_p: input.top_p,
        // Never more than was reserved: with no known context window the reservation is the cap.
        max_tokens:
          admission.maxCompletionTokens ?? input.max_tokens ?? (entry.contextWindow ? undefined : reservedCompletion),
        stop: input.stop,
        seed: input.seed,
        presence_penalty: input.presence_penalty,
        frequency_penalty: input.frequency_penalty,
        tools: input.tools,
        tool_choice: input.tool_choice,
        response_format: input.response_format,
        stream: input.stream,
        agentId: input.agentId,
      };
      source = await provider.stream(request, { signal });
    } catch (error) {
      // Nothing was produced. A caller that left after admission still sent its prompt (the
      // upstream may have read it), so it is charged; a provider failure is not the caller's.
      await ledger.record(signal.aborted ? 'cancelled' : 'error', {
        prompt_tokens: signal.aborted ? promptEstimate : 0,
        completion_tokens: 0,
      });
      throw fromProvider(error);
    }
    return {
      model: entry.id,
      headers: withIgnoredSettings(admission.headers, provider.ignoredSettings?.(request) ?? []),
      events: ledger.track(source, promptEstimate, signal),
      usage: () => ledger.usage,
    };
  }

  /** Embeddings go through the same registry, limits and ledger (completion tokens 0). */
  async embed(actor: Actor, input: EmbeddingsInput, options: { signal: AbortSignal }): Promise<EmbeddingsResult> {
    const { entry, provider } = await this.deps.models.resolve(input.model);
    if (!provider.embed) throw invalid('model', `${entry.id} does not compute embeddings`);
    if (!input.input.length) throw invalid('input', 'must hold at least one text');
    const estimate = input.input.reduce((sum, text) => sum + estimateTextTokens(text), 0);
    const admission = await this.deps.limits.admit({
      actor,
      model: entry.id,
      reserveTokens: estimate,
      reserveCostMicros: costMicros({ prompt_tokens: estimate, completion_tokens: 0 }, entry.prices),
      stream: false,
    });
    const ledger = new Ledger(this.deps, { actor, entry, provider, admission });
    try {
      const result = await provider.embed(input.input, entry.upstream, options);
      const usage = { prompt_tokens: result.usage.prompt_tokens || estimate, completion_tokens: 0 };
      await ledger.record('complete', usage);
      return { model: entry.id, embeddings: result.embeddings, usage };
    } catch (error) {
      await ledger.record(options.signal.aborted ? 'cancelled' : 'error', { prompt_tokens: 0, completion_tokens: 0 });
      throw fromProvider(error);
    }
  }
}

/** One run's bookkeeping: writes its usage row and settles its admission, exactly once. */
class Ledger {
  usage: Usage | undefined;
  private readonly deps: CompletionsDeps;
  readonly run: {
    actor: Actor;
    entry: ModelEntry;
    provider: Provider;
    admission: Admission;
    conversationId?: number;
    onRecorded?: () => void;
  };
  /** The row is written (or being written): exactly once. */
  recorded = false;

  constructor(deps: CompletionsDeps, run: Ledger['run']) {
    this.deps = deps;
    this.run = run;
  }

  async record(outcome: Outcome, usage: Usage): Promise<void> {
    if (this.recorded) return;
    this.recorded = true;
    this.usage = usage;
    const { actor, entry, provider, admission, conversationId } = this.run;
    const cost = costMicros(usage, entry.prices);
    try {
      await this.deps.usage.insert({
        user_id: actor.userId,
        api_key_id: actor.apiKeyId ?? null,
        conversation_id: conversationId ?? null,
        model: entry.id,
        provider: provider.id,
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        cost_micros: cost,
        status: outcome,
        created_at: isoAt(this.deps.clock.now()),
      });
    } catch (error) {
      this.deps.warn?.(`completions: cannot write the usage row: ${(error as Error).message}`);
    }
    try {
      await admission.settle({ tokens: usage.prompt_tokens + usage.completion_tokens, costMicros: cost });
    } catch (error) {
      this.deps.warn?.(`completions: cannot settle the admission: ${(error as Error).message}`);
    }
    // Only now does the answer leave the running ones: a shutdown waiting for them finds its row written.
    this.run.onRecorded?.();
  }

  /**
   * Passes the provider's events through, and always ends with "usage, finish" or "error" (usage
   * counted when the upstream reported none). The row is written before those last events are
   * given out, so a consumer that stops there (or leaves early: return()) still leaves one row.
   */
  track(source: AsyncIterable<ProviderStreamEvent>, promptEstimate: number, signal: AbortSignal): TrackedEvents {
    return new TrackedEvents(this, source, promptEstimate, signal);
  }
}

const iterationDone: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * Ledger.track's events. An iterator written out rather than an async generator: an open stream
 * spends nearly all its life waiting for the provider's next event, and a generator waiting holds
 * its frame, registers, contexts and request queue (~0.9 KiB per stream); this holds its fields and
 * the one pending promise. Read sequentially, as `for await` does.
 */
class TrackedEvents implements AsyncIterableIterator<StreamEvent> {
  private readonly ledger: Ledger;
  private readonly source: AsyncIterable<ProviderStreamEvent>;
  private readonly promptEstimate: number;
  private readonly signal: AbortSignal;
  private readonly produced: ProducedText;
  private reported: Usage | undefined;
  private iterator: AsyncIterator<ProviderStreamEvent> | undefined;
  /** The source is neither done nor failed: leaving early closes it. */
  private sourceOpen = false;
  /** The last events, once the source has ended: given out before the end. */
  private ending: StreamEvent[] | undefined;
  private closed = false;

  constructor(ledger: Ledger, source: AsyncIterable<ProviderStreamEvent>, promptEstimate: number, signal: AbortSignal) {
    this.ledger = ledger;
    this.source = source;
    this.promptEstimate = promptEstimate;
    this.signal = signal;
    const { provider, entry } = ledger.run;
    this.produced = new ProducedText(provider.countTokens ? tokenCounterOf(provider, entry.upstream) : undefined);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<StreamEvent>> {
    if (this.closed) return Promise.resolve(iterationDone);
    if (this.ending) {
      const event = this.ending.shift();
      return event ? Promise.resolve({ value: event, done: false }) : this.close();
    }
    if (!this.iterator) {
      this.iterator = this.source[Symbol.asyncIterator]();
      this.sourceOpen = true;
    }
    return this.iterator.next().then(this.onResult, this.onFailure);
  }

  /** The consumer left before the end (break, or return() on abort): what was produced is charged. */
  async return(): Promise<IteratorResult<StreamEvent>> {
    if (this.closed) return iterationDone;
    const started = this.iterator !== undefined;
    try {
      await this.close();
    } finally {
      if (started && !this.ledger.recorded) await this.ledger.record('cancelled', await this.usageOrEstimate());
    }
    return iterationDone;
  }

  private async usageNow(): Promise<Usage> {
    return this.reported ?? { prompt_tokens: this.promptEstimate, completion_tokens: await this.produced.tokens() };
  }

  /** What to charge when the answer is over anyway: the prompt's estimate if counting fails (a provider shutting down). */
  private usageOrEstimate(): Promise<Usage> {
    return this.usageNow().catch(() => ({ prompt_tokens: this.promptEstimate, completion_tokens: 0 }));
  }

  private readonly onResult = async (
    result: IteratorResult<ProviderStreamEvent>,
  ): Promise<IteratorResult<StreamEvent>> => {
    if (result.done) {
      // The source ended without a finish: the caller aborted (or the adapter stopped early).
      this.sourceOpen = false;
      const aborted = this.signal.aborted;
      await this.ledger.record(aborted ? 'cancelled' : 'error', await this.usageOrEstimate());
      const { provider } = this.ledger.run;
      return this.end(
        aborted
          ? { type: 'finish', reason: 'cancelled' }
          : {
              type: 'error',
              error: new AppError('upstream_error', `Provider "${provider.id}" ended the answer without finishing it`),
            },
      );
    }
    const event = result.value;
    try {
      switch (event.type) {
        case 'text-delta':
          this.produced.add(event.text);
          return { value: event, done: false };
        case 'tool-call-delta':
          this.produced.add((event.name ?? '') + (event.arguments ?? ''));
          return { value: event, done: false };
        case 'usage':
          this.reported = event.usage;
          return this.next();
        case 'finish': {
          const usage = await this.usageNow();
          await this.ledger.record(
            event.reason === 'cancelled' ? 'cancelled' : event.reason === 'error' ? 'error' : 'complete',
            usage,
          );
          return this.end({ type: 'usage', usage }, event);
        }
        case 'error':
          await this.ledger.record('error', await this.usageNow());
          return this.end({ type: 'error', error: fromProvider(event.error) });
      }
    } catch (error) {
      // Our own step failed, not the source: it is closed, as leaving a `for await` by a throw does
      // (which ignores an error from closing it).
      await this.closeSource().catch(() => {});
      return this.onFailure(error);
    }
    return this.next();
  };

  /** The source failed (or a step did): charged, then an error event unless the caller aborted. */
  private readonly onFailure = async (error: unknown): Promise<IteratorResult<StreamEvent>> => {
    this.sourceOpen = false;
    try {
      await this.ledger.record(this.signal.aborted ? 'cancelled' : 'error', await this.usageNow());
    } finally {
      if (!this.ledger.recorded) await this.ledger.record('cancelled', await this.usageOrEstimate());
    }
    if (this.signal.aborted) return this.close();
    const { provider } = this.ledger.run;
    return this.end({
      type: 'error',
      error:
        error instanceof AppError || error instanceof ProviderError
          ? fromProvider(error)
          : new AppError('upstream_error', `Provider "${provider.id}" failed mid-answer`, { cause: error }),
    });
  };

  /** The source is done with: the events left go out, then the end. */
  private end(...events: StreamEvent[]): Promise<IteratorResult<StreamEvent>> {
    this.ending = events;
    return this.next();
  }

  private async close(): Promise<IteratorResult<StreamEvent>> {
    this.closed = true;
    this.ending = undefined;
    await this.closeSource();
    return iterationDone;
  }

  private async closeSource(): Promise<void> {
    if (!this.sourceOpen) return;
    this.sourceOpen = false;
    await this.iterator?.return?.();
  }
}

/** Names the settings the provider will not apply, so they are never dropped silently. */
function withIgnoredSettings(headers: Record<string, string>, ignored: string[]): Record<string, string> {
  return ignored.length === 0 ? headers : { ...headers, 'x-causerie-ignored-settings': ignored.join(', ') };
}
