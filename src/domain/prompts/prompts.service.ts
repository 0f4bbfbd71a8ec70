import { isoAt, type Clock } from '../clock.ts';
import { collectCompletion } from '../completions/collect.ts';
import type { Completions } from '../completions/completions.types.ts';
import type { ModelCatalog } from '../conversations/conversations.types.ts';
import { AppError, invalid, notFound } from '../errors.ts';
import type { Actor } from '../users/users.service.ts';
import { renderTemplate } from './prompt-template.ts';
import type { PromptRow, PromptsStore } from './prompts.store.ts';

export interface PromptsDeps {
  store: PromptsStore;
  completions: Completions;
  models: ModelCatalog;
  clock: Clock;
}

/** A prompt as the chat-API dialect shows it. */
export interface Prompt {
  id: number;
  title: string;
  content: string;
  scenario: string | null;
  description: string | null;
  metadata: Record<string, unknown>;
  is_template: boolean;
  usage_count: number;
  created_at: string;
  updated_at: string;
}

export interface PromptInput {
  title: string;
  content: string;
  scenario?: string | null;
  description?: string | null;
  metadata?: Record<string, unknown>;
}

export interface PromptListQuery {
  scenario?: string;
  includeTemplates: boolean;
  search?: string;
  limit: number;
  offset: number;
}

export interface PreviewInput {
  prompt_id?: number;
  content?: string;
  variables: Record<string, string>;
  model?: string;
  /** Render only: no model call. */
  render_only?: boolean;
}

export interface RenderedPrompt {
  rendered: string;
  variables: string[];
  unused_variables: string[];
}

export interface PreviewResult extends RenderedPrompt {
  preview: string;
  tokens_used: number;
  model_used: string;
}

const toPrompt = (row: PromptRow): Prompt => ({
  id: row.id,
  title: row.title,
  content: row.content,
  scenario: row.scenario,
  description: row.description,
  metadata: JSON.parse(row.metadata) as Record<string, unknown>,
  is_template: row.is_template === 1,
  usage_count: row.usage_count,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

/**
 * Prompt templates (the chat-API dialect's prompt management): a user's own prompts, plus built-in templates
 * everyone can read and use but nobody can change. Variables are `{name}`; see prompt-template.ts.
 */
export class PromptsService {
  private readonly deps: PromptsDeps;

  constructor(deps: PromptsDeps) {
    this.deps = deps;
  }

  private now() {
    return isoAt(this.deps.clock.now());
  }

  /** A prompt the caller may use: their own or a built-in template. Anyone else's answers 404. */
  private async readable(actor: Actor, id: number): Promise<PromptRow> {
    const row = await this.deps.store.findById(id);
    if (!row || (row.is_template !== 1 && row.user_id !== actor.userId)) throw notFound('Prompt');
    return row;
  }

  /** A prompt the caller may change: their own. A built-in template is 403. */
  private async writable(actor: Actor, id: number): Promise<PromptRow> {
    const row = await this.readable(actor, id);
    if (row.is_template === 1)
      throw new AppError('forbidden', 'Built-in templates are read-only; create your own prompt from it instead');
    return row;
  }

  async create(actor: Actor, input: PromptInput): Promise<Prompt> {
    const now = this.now();
    const row = await this.deps.store.insert({
      user_id: actor.userId,
      title: input.title,
      content: input.content,
      scenario: input.scenario ?? null,
      description: input.description ?? null,
      metadata: JSON.stringify(input.metadata ?? {}),
      is_template: 0,
      usage_count: 0,
      created_at: now,
      updated_at: now,
    });
    return toPrompt(row);
  }

  async get(actor: Actor, id: number): Promise<Prompt> {
    return toPrompt(await this.readable(actor, id));
  }

  async list(actor: Actor, query: PromptListQuery): Promise<{ items: Prompt[]; total: number }> {
    const filter = {
      userId: actor.userId,
      includeTemplates: query.includeTemplates,
      scenario: query.scenario,
      search: query.search,
    };
    const [rows, total] = await Promise.all([
      this.deps.store.list(filter, { limit: query.limit, offset: query.offset }),
      this.deps.store.count(filter),
    ]);
    return { items: rows.map(toPrompt), total };
  }

  async update(actor: Actor, id: number, changes: Partial<PromptInput>): Promise<Prompt> {
    await this.writable(actor, id);
    const updated = await this.deps.store.update(id, {
      ...(changes.title !== undefined ? { title: changes.title } : {}),
      ...(changes.content !== undefined ? { content: changes.content } : {}),
      ...(changes.scenario !== undefined ? { scenario: changes.scenario } : {}),
      ...(changes.description !== undefined ? { description: changes.description } : {}),
      ...(changes.metadata !== undefined ? { metadata: JSON.stringify(changes.metadata) } : {}),
      updated_at: this.now(),
    });
    if (!updated) throw notFound('Prompt');
    return toPrompt(updated);
  }

  async delete(actor: Actor, id: number): Promise<void> {
    await this.writable(actor, id);
    await this.deps.store.delete(id);
  }

  /** Renders a template with its variables; every missing variable is a 400 that names them all. */
  render(template: string, variables: Record<string, string>, field = 'variables'): RenderedPrompt {
    const result = renderTemplate(template, variables);
    if (result.missing.length > 0) {
      throw invalid(
        field,
        `missing value for ${result.missing.map((name) => `{${name}}`).join(', ')} (the prompt uses ${result.variables.join(', ')})`,
      );
    }
    return { rendered: result.text, variables: result.variables, unused_variables: result.unused };
  }

  /** The text of a stored prompt with its variables, for use in a chat (counted by recordUse once admitted). */
  async renderForUse(
    actor: Actor,
    id: number,
    variables: Record<string, string>,
  ): Promise<RenderedPrompt & { prompt: Prompt }> {
    const prompt = toPrompt(await this.readable(actor, id));
    return { ...this.render(prompt.content, variables), prompt };
  }

  /**
   * A user message built with a stored prompt (`prompt_id` + `variables` on a chat route): the
   * rendered prompt, then the user's own text, if any, after a blank line. Call recordUse(id) once
   * the completion is admitted.
   */
  async composeUserMessage(
    actor: Actor,
    promptId: number,
    variables: Record<string, string>,
    text: string | undefined,
  ): Promise<string> {
    const { rendered } = await this.renderForUse(actor, promptId, variables);
    return text ? `${rendered}\n\n${text}` : rendered;
  }

  /** Counts one real use: called once the completion that used the prompt has been admitted. */
  async recordUse(id: number): Promise<void> {
    await this.deps.store.incrementUsage(id);
  }

  /** The chat-API dialect's preview: the prompt rendered and answered by a model, through the limits gate like any completion. */
  async preview(
    actor: Actor,
    input: PreviewInput,
    options: { signal: AbortSignal },
  ): Promise<RenderedPrompt | PreviewResult> {
    let template: string;
    if (input.prompt_id !== undefined) template = (await this.readable(actor, input.prompt_id)).content;
    else if (input.content !== undefined) template = input.content;
    else throw invalid('body.prompt_id', 'give prompt_id or content');
    const rendered = this.render(template, input.variables);
    if (input.render_only) return rendered;
    const model = input.model ?? (await this.deps.models.defaultModel());
    if (!model) throw invalid('body.model', 'is required: no default model is configured');
    if (!(await this.deps.models.exists(model)))
      throw invalid('body.model', `unknown model "${model}"; GET /api/v1/models lists the available ones`);
    const run = await this.deps.completions.start(
      actor,
      { model, messages: [{ role: 'user', content: rendered.rendered }], stream: false },
      options,
    );
    const result = await collectCompletion(run);
    return {
      preview: result.text,
      tokens_used: result.usage.prompt_tokens + result.usage.completion_tokens,
      model_used: run.model,
      ...rendered,
    };
  }
}
