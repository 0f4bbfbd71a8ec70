import type { Provider, ProviderAgentDefinition } from '../../providers/provider.ts';
import { ProviderError } from '../../providers/provider-error.ts';
import type { Agent } from './agents.types.ts';

export interface ProviderAgentsDeps {
  /** The provider and upstream model behind a public model id; throws when the id is unknown or cannot serve. */
  resolve(model: string): Promise<{ entry: { upstream: string }; provider: Provider }>;
  /** Where a failed sync is reported (provider id and reason; never a key). */
  warn(message: string): void;
  /** How long one call to the provider's Agents API may take. */
  timeoutMs?: number;
}

/** Sampling settings a request gives, to tell whether the provider's agent can answer as it is. */
export interface RequestedSettings {
  temperature?: number;
  top_p?: number;
}

/** Whether a provider call failed because the agent is gone there (deleted in the provider's console). */
export function isMissingProviderAgent(error: unknown): boolean {
  // From a completion the provider's failure arrives mapped to the caller's error, with the original as its cause.
  const failure = error instanceof Error && error.cause instanceof ProviderError ? error.cause : error;
  return failure instanceof ProviderError && failure.status === 404;
}

/**
 * Keeps Causerie's agents mirrored on providers with agents of their own (Mistral's Agents API), so
 * their users see them in the provider's console, and says when a completion can be answered by
 * that agent. Causerie stays the source of truth: a failed sync is logged and the agent keeps
 * working through plain chat completions with its instructions.
 */
export class ProviderAgentSync {
  private readonly deps: ProviderAgentsDeps;

  constructor(deps: ProviderAgentsDeps) {
    this.deps = deps;
  }

  /** The provider behind the agent's model when that provider keeps agents, else undefined. */
  private async host(
    model: string | null,
  ): Promise<{ upstream: string; provider: Provider & Required<Pick<Provider, 'agents'>> } | undefined> {
    if (!model) return undefined;
    try {
      const { entry, provider } = await this.deps.resolve(model);
      return provider.agents
        ? { upstream: entry.upstream, provider: provider as Provider & Required<Pick<Provider, 'agents'>> }
        : undefined;
    } catch {
      return undefined;
    }
  }

  private signal() {
    return AbortSignal.timeout(this.deps.timeoutMs ?? 15_000);
  }

  private definition(agent: Agent, upstream: string): ProviderAgentDefinition {
    const { temperature, topP, maxTokens } = agent.settings;
    return {
      model: upstream,
      name: agent.name,
      description: agent.description,
      instructions: agent.instructions,
      completion_args: { temperature, top_p: topP, max_tokens: maxTokens },
      tools: agent.tools,
    };
  }

  private failed(action: string, agent: Agent, providerId: string, error: unknown) {
    const reason = (error as Error)?.message ?? String(error);
    this.deps.warn(`agents: cannot ${action} agent ${agent.id} on provider "${providerId}": ${reason}`);
  }

  /** Creates the agent on its model's provider when that provider keeps agents; its id there, or null. */
  async created(agent: Agent): Promise<string | null> {
    const host = await this.host(agent.model);
    if (!host) return null;
    try {
      return (await host.provider.agents.create(this.definition(agent, host.upstream), { signal: this.signal() })).id;
    } catch (error) {
      this.failed('create', agent, host.provider.id, error);
      return null;
    }
  }

  /**
   * Brings the provider's copy in step after an update: patched in place, created when the agent
   * moved onto such a provider (or its copy is gone), removed when it moved off. Its id there now.
   */
  async updated(before: Agent, after: Agent): Promise<string | null> {
    const [was, now] = await Promise.all([
      before.providerAgentId ? this.host(before.model) : undefined,
      this.host(after.model),
    ]);
    if (before.providerAgentId && was && now && was.provider.id === now.provider.id) {
      try {
        await now.provider.agents.update(before.providerAgentId, this.definition(after, now.upstream), {
          signal: this.signal(),
        });
        return before.providerAgentId;
      } catch (error) {
        // Deleted in the provider's console: make it again; otherwise keep the link and retry next time.
        if (!isMissingProviderAgent(error)) {
          this.failed('update', after, now.provider.id, error);
          return before.providerAgentId;
        }
      }
    } else if (before.providerAgentId && was) {
      await this.removed(before);
    }
    return now ? this.created(after) : null;
  }

  /** Removes the provider's copy, if any (best effort: a failure is logged). */
  async removed(agent: Agent): Promise<void> {
    if (!agent.providerAgentId) return;
    const host = await this.host(agent.model);
    if (!host) return;
    try {
      await host.provider.agents.remove(agent.providerAgentId, { signal: this.signal() });
    } catch (error) {
      this.failed('delete', agent, host.provider.id, error);
    }
  }

  /**
   * The provider's agent id when it can answer this completion as it is: it exists, the completion
   * uses the agent's own model, and the request changes no sampling setting the provider's agent
   * holds (its agent completion takes no temperature or top_p). Otherwise undefined: Causerie then
   * sends plain chat completions with the instructions.
   */
  async route(agent: Agent, model: string, requested: RequestedSettings): Promise<string | undefined> {
    if (!agent.providerAgentId || model !== agent.model) return undefined;
    if (requested.temperature !== undefined && requested.temperature !== agent.settings.temperature) return undefined;
    if (requested.top_p !== undefined && requested.top_p !== agent.settings.topP) return undefined;
    return (await this.host(model)) ? agent.providerAgentId : undefined;
  }
}
