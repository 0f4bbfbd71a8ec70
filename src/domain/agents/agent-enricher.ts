import type { ContextEnricher } from '../conversations/context-enrichers.ts';
import type { AgentsService } from './agents.service.ts';
import { withInstructions } from './agents.types.ts';
import type { ProviderAgentSync } from './provider-agents.ts';

/**
 * In a conversation that belongs to an agent, the model sees the agent's instructions and the
 * request gets the agent's settings where it gave none. The reply records which agent answered.
 * When the agent's copy on its provider (Mistral) can answer, that agent is called instead and the
 * instructions, which it holds, are not repeated.
 */
export function agentEnricher(agents: AgentsService, providerAgents?: ProviderAgentSync): ContextEnricher {
  return {
    name: 'agent',
    async enrich({ conversation, messages, model, requested }) {
      if (conversation.agent_id === null) return undefined;
      const agent = await agents.forConversation(conversation.agent_id);
      if (!agent) return undefined;
      const providerAgentId = await providerAgents?.route(agent, model, requested ?? {});
      return {
        messages: providerAgentId ? messages : withInstructions(agent, messages),
        settings: {
          temperature: agent.settings.temperature,
          top_p: agent.settings.topP,
          max_tokens: agent.settings.maxTokens,
        },
        metadata: {
          agent: {
            id: agent.id,
            uuid: agent.uuid,
            name: agent.name,
            ...(providerAgentId && { provider_agent_id: providerAgentId }),
          },
        },
        ...(providerAgentId && { providerAgentId }),
      };
    },
  };
}
