import type { IdempotencyRequest } from '../idempotency/idempotency-keys.ts';
import type { ChatMessage } from '../../providers/provider.ts';
import type { CompletionRun, Completions } from '../completions/completions.types.ts';
import type { ConversationCompletions, ConversationRun } from '../conversations/conversation-completions.ts';
import type { ConversationsService, CreateConversationInput } from '../conversations/conversations.service.ts';
import type { Conversation } from '../conversations/conversations.types.ts';
import { AppError, invalid } from '../errors.ts';
import type { Actor } from '../users/users.service.ts';
import type { AgentsService } from './agents.service.ts';
import { withInstructions, type Agent } from './agents.types.ts';
import { isMissingProviderAgent, type ProviderAgentSync } from './provider-agents.ts';

export interface AgentRunsDeps {
  agents: AgentsService;
  conversations: ConversationsService;
  conversationCompletions: ConversationCompletions;
  completions: Completions;
  providerAgents?: ProviderAgentSync;
  /** The model used when neither the request nor the agent names one. */
  defaultModel(): Promise<string | undefined>;
}

/** Generation settings a request may give; each one left out is the agent's. */
export interface AgentRequestSettings {
  /** Another model than the agent's, for this request only. */
  model?: string;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  stream: boolean;
}

/** A prompt to an agent without a session: the exchange the model sees, nothing stored but usage. */
export interface AgentPromptInput extends AgentRequestSettings {
  messages: ChatMessage[];
  stop?: string[];
  seed?: number;
}

/**
 * Talking to an agent: a one-off prompt (nothing stored but usage), a prompt in a session (stored
 * in its history, the session becoming the agent's), and sessions created for an agent. Every call
 * goes through the completions service, so the limits gate applies.
 */
export class AgentRuns {
  private readonly deps: AgentRunsDeps;

  constructor(deps: AgentRunsDeps) {
    this.deps = deps;
  }

  /** One completion by the agent, nothing stored: its instructions first, its settings where the request gives none. */
  async complete(
    actor: Actor,
    agentReference: string | number,
    input: AgentPromptInput,
    options: { signal: AbortSignal },
  ): Promise<{ agent: Agent; run: CompletionRun }> {
    const agent = await this.deps.agents.get(actor, agentReference);
    return this.retryWithoutCopy(agent, (current) => this.completeOnce(actor, current, input, options));
  }

  /**
   * Runs `attempt`; if the agent's copy on its provider is gone (deleted in Mistral's console),
   * forgets the copy (the next update makes a new one) and runs it once more without it.
   */
  private async retryWithoutCopy<T>(agent: Agent, attempt: (agent: Agent) => Promise<T>): Promise<T> {
    try {
      return await attempt(agent);
    } catch (error) {
      if (!agent.providerAgentId || !isMissingProviderAgent(error)) throw error;
      await this.deps.agents.linkProviderAgent(agent.id, null);
      return attempt({ ...agent, providerAgentId: null });
    }
  }

  private async completeOnce(
    actor: Actor,
    agent: Agent,
    input: AgentPromptInput,
    options: { signal: AbortSignal },
  ): Promise<{ agent: Agent; run: CompletionRun }> {
    const model = input.model ?? agent.model ?? (await this.deps.defaultModel());
    if (!model) throw invalid('model_id', 'is required: the agent has no model and no default model is configured');
    const providerAgentId = await this.deps.providerAgents?.route(agent, model, input);
    const run = await this.deps.completions.start(
      actor,
      {
        model,
        messages: providerAgentId ? input.messages : withInstructions(agent, input.messages),
        temperature: input.temperature ?? agent.settings.temperature,
        top_p: input.top_p ?? agent.settings.topP,
        max_tokens: input.max_tokens ?? agent.settings.maxTokens,
        stop: input.stop,
        seed: input.seed,
        stream: input.stream,
        agentId: providerAgentId,
      },
      options,
    );
    return { agent, run };
  }

  /**
   * A prompt to the agent inside a session, stored in its history. The session becomes the
   * agent's (its later completions get the agent's instructions too), even if another agent had it:
   * the agent named in the request is the one that answers.
   */
  async completeInSession(
    actor: Actor,
    sessionReference: string | number,
    agentReference: string | number,
    input: AgentRequestSettings & { prompt: string; idempotency?: IdempotencyRequest },
    options: { signal: AbortSignal },
  ): Promise<{ agent: Agent; run: ConversationRun }> {
    const agent = await this.deps.agents.get(actor, agentReference);
    const session = await this.deps.conversations.get(actor, sessionReference);
    if (session.agent_id !== agent.id) await this.deps.conversations.setAgent(actor, session.id, agent.id);
    // A failed start leaves no trace in the history, so it can be run again.
    const run = await this.retryWithoutCopy(agent, () =>
      this.deps.conversationCompletions.complete(
        actor,
        {
          conversation: session.id,
          messages: [{ role: 'user', content: input.prompt }],
          model: input.model ?? agent.model ?? undefined,
          temperature: input.temperature,
          top_p: input.top_p,
          max_tokens: input.max_tokens,
          stream: input.stream,
          idempotency: input.idempotency,
        },
        options,
      ),
    );
    return { agent, run };
  }

  /** A session that belongs to an agent; the agent's model is the session's unless one is given. */
  async createSession(
    actor: Actor,
    agentReference: string | number,
    input: CreateConversationInput,
  ): Promise<Conversation> {
    // A session naming an agent it cannot see is a bad request, like one naming an unknown model.
    const agent = await this.deps.agents.get(actor, agentReference).catch((error: unknown) => {
      throw error instanceof AppError && error.code === 'not_found'
        ? invalid('agent_id', `no agent "${agentReference}" (GET /api/v1/models/agents lists yours)`)
        : error;
    });
    return this.deps.conversations.create(actor, { ...input, agent_id: agent.id, model: input.model ?? agent.model });
  }
}
