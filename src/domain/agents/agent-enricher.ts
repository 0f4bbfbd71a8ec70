import type { ContextEnricher } from '../conversations/context-enrichers.ts';
import type { AgentsService } from './agents.service.ts';
import { withInstructions } from './agents.types.ts';

/**
 * In a conversation that belongs to an agent, the model sees the agent's instructions and the
 * request gets the agent's settings where it gave none. The reply records which agent answered.
 */
export function agentEnricher(agents: AgentsService): ContextEnricher {
  return {
    name: 'agent',
    async enrich({ conversation, messages }) {
      if (conversation.agent_id === null) return undefined;
      const agent = await agents.forConversation(conversation.agent_id);
      if (!agent) return undefined;
      return {
        messages: withInstructions(agent, messages),
        settings: { temperature: agent.settings.temperature, top_p: agent.settings.topP, max_tokens: agent.settings.maxTokens },
        metadata: { agent: { id: agent.id, uuid: agent.uuid, name: agent.name } },
      };
    },
  };
}
