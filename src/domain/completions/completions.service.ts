import type {
  ChatRequest,
  FinishReason,
  Provider,
  ProviderStreamEvent,
  StreamEvent,
  Usage,
} from '../../providers/provider.ts';
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
  private readonly run: {
    actor: Actor;
    entry: ModelEntry;
    provider: Provider;
    admission: Admission;
    conversationId?: number;
    onRecorded?: () => void;
  };
  private recorded = false;

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
   * yielded, so a consumer that stops there (or leaves early: finally) still leaves one row.
   */
  async *track(
    source: AsyncIterable<ProviderStreamEvent>,
    promptEstimate: number,
    signal: AbortSignal,
  ): AsyncGenerator<StreamEvent> {
    const { provider, entry } = this.run;
    const produced = new ProducedText(provider.countTokens ? tokenCounterOf(provider, entry.upstream) : undefined);
    let reported: Usage | undefined;
    const usageNow = async (): Promise<Usage> =>
      reported ?? { prompt_tokens: promptEstimate, completion_tokens: await produced.tokens() };
    try {
      for await (const event of source) {
        switch (event.type) {
          case 'text-delta':
            produced.add(event.text);
            yield event;
            break;
          case 'tool-call-delta':
            produced.add((event.name ?? '') + (event.arguments ?? ''));
            yield event;
            break;
          case 'usage':
            reported = event.usage;
            break;
          case 'finish': {
            const usage = await usageNow();
            await this.record(
              event.reason === 'cancelled' ? 'cancelled' : event.reason === 'error' ? 'error' : 'complete',
              usage,
            );
            yield { type: 'usage', usage };
            yield event;
            return;
          }
          case 'error':
            await this.record('error', await usageNow());
            yield { type: 'error', error: fromProvider(event.error) };
            return;
        }
      }
      // The source ended without a finish: the caller aborted (or the adapter stopped early).
      const reason: FinishReason = signal.aborted ? 'cancelled' : 'error';
      await this.record(signal.aborted ? 'cancelled' : 'error', await usageNow());
      if (reason === 'error')
        yield {
          type: 'error',
          error: new AppError('upstream_error', `Provider "${provider.id}" ended the answer without finishing it`),
        };
      else yield { type: 'finish', reason };
    } catch (error) {
      await this.record(signal.aborted ? 'cancelled' : 'error', await usageNow());
      if (signal.aborted) return;
      yield {
        type: 'error',
        error:
          error instanceof AppError || error instanceof ProviderError
            ? fromProvider(error)
            : new AppError('upstream_error', `Provider "${provider.id}" failed mid-answer`, { cause: error }),
      };
    } finally {
      // The consumer left before the end (break, or return() on abort): what was produced is charged.
      if (!this.recorded)
        await this.record(
          'cancelled',
          await usageNow().catch(() => ({ prompt_tokens: promptEstimate, completion_tokens: 0 })),
        );
    }
  }
}

/** Names the settings the provider will not apply, so they are never dropped silently. */
function withIgnoredSettings(headers: Record<string, string>, ignored: string[]): Record<string, string> {
  return ignored.length === 0 ? headers : { ...headers, 'x-causerie-ignored-settings': ignored.join(', ') };
}
