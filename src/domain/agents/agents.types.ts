import type { ChatMessage } from '../../providers/provider.ts';
import type { AgentRow } from './agents.store.ts';

/** Generation settings an agent applies when a request leaves them out. */
export interface AgentSettings {
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  /** Searches the web for every question, unless a request turns it off (docs/web-search.md). */
  webSearch?: boolean;
}

/** A named model with instructions (its system prompt) and settings, owned by one user. */
export interface Agent {
  id: number;
  uuid: string;
  userId: number;
  name: string;
  /** The public model id it answers with; null means the default model. */
  model: string | null;
  instructions: string | null;
  description: string | null;
  settings: AgentSettings;
  /** OpenAI-shaped tool definitions passed to the model, or null. */
  tools: unknown[] | null;
  metadata: Record<string, unknown>;
  /** Its id on a provider with its own agents (Mistral), once created there. */
  providerAgentId: string | null;
  createdAt: string;
  updatedAt: string;
}

export const toAgent = (row: AgentRow): Agent => ({
  id: row.id,
  uuid: row.uuid,
  userId: row.user_id,
  name: row.name,
  model: row.model,
  instructions: row.instructions,
  description: row.description,
  settings: JSON.parse(row.settings) as AgentSettings,
  tools: row.tools === null ? null : (JSON.parse(row.tools) as unknown[]),
  metadata: JSON.parse(row.metadata) as Record<string, unknown>,
  providerAgentId: row.provider_agent_id,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/**
 * The messages an agent's model sees: its instructions first, as a system message, ahead of any
 * system prompt the conversation has. Used inside conversations and for one-off prompts alike.
 */
export function withInstructions(agent: Agent, messages: ChatMessage[]): ChatMessage[] {
  if (!agent.instructions) return messages;
  return [{ role: 'system', content: agent.instructions }, ...messages];
}
