import { isoAt, type Clock } from '../clock.ts';
import { invalid, notFound } from '../errors.ts';
import { newUuid, parseReference } from '../ids.ts';
import type { Page } from '../conversations/conversations.types.ts';
import type { Actor } from '../users/users.service.ts';
import type { AgentRow, AgentsStore } from './agents.store.ts';
import { toAgent, type Agent, type AgentSettings } from './agents.types.ts';
import type { ProviderAgentSync } from './provider-agents.ts';
import { isAdmin, mayAccess } from '../users/authorization.ts';

export interface AgentsDeps {
  store: AgentsStore;
  /** Whether a public model id exists: an agent cannot name a model the registry lacks. */
  modelExists(model: string): Promise<boolean>;
  clock: Clock;
  /** Mirrors agents on providers with agents of their own (Mistral); none in unit tests. */
  providerAgents?: ProviderAgentSync;
}

/** The fields a caller sets on an agent; every one but the name is optional. */
export interface AgentInput {
  name: string;
  model?: string | null;
  instructions?: string | null;
  description?: string | null;
  /** On update, merged into the current settings: a setting left out stays, `null` clears it. */
  settings?: { [K in keyof AgentSettings]?: AgentSettings[K] | null };
  tools?: unknown[] | null;
  metadata?: Record<string, unknown>;
}

/** The settings with the given ones applied: undefined keeps a setting, null removes it. */
function mergeSettings(current: AgentSettings, given: AgentInput['settings']): AgentSettings {
  const merged: Record<string, number | boolean | null | undefined> = { ...current };
  for (const [name, value] of Object.entries(given ?? {})) if (value !== undefined) merged[name] = value;
  return Object.fromEntries(
    Object.entries(merged).filter(([, value]) => value !== null && value !== undefined),
  ) as AgentSettings;
}

/** Agents: who may see them, and how they are created, changed and removed. */
export class AgentsService {
  private readonly deps: AgentsDeps;

  constructor(deps: AgentsDeps) {
    this.deps = deps;
  }

  private now() {
    return isoAt(this.deps.clock.now());
  }

  private async requireModel(model: string | null | undefined) {
    if (model && !(await this.deps.modelExists(model)))
      throw invalid('model', `"${model}" is not a known model (GET /api/v1/models lists them)`);
  }

  /** Finds an agent by id or UUID; someone else's answers 404 as if it did not exist (admins see all). */
  private async findRow(actor: Actor, reference: string | number): Promise<AgentRow> {
    const parsed = typeof reference === 'number' ? { id: reference } : parseReference(reference);
    const row = !parsed
      ? undefined
      : 'id' in parsed
        ? await this.deps.store.findById(parsed.id)
        : await this.deps.store.findByUuid(parsed.uuid);
    if (!row || !mayAccess(actor, row.user_id)) throw notFound('Agent');
    return row;
  }

  async create(actor: Actor, input: AgentInput): Promise<Agent> {
    const name = input.name.trim();
    if (!name) throw invalid('name', 'must not be empty');
    await this.requireModel(input.model);
    const now = this.now();
    const row = await this.deps.store.insert({
      uuid: newUuid(),
      user_id: actor.userId,
      name,
      model: input.model ?? null,
      instructions: input.instructions ?? null,
      description: input.description ?? null,
      settings: JSON.stringify(mergeSettings({}, input.settings)),
      tools: input.tools ? JSON.stringify(input.tools) : null,
      metadata: JSON.stringify(input.metadata ?? {}),
      provider_agent_id: null,
      created_at: now,
      updated_at: now,
    });
    return this.linked(toAgent(row), await this.deps.providerAgents?.created(toAgent(row)));
  }

  /** The agent with its provider-side id recorded, when that changed. */
  private async linked(agent: Agent, providerAgentId: string | null | undefined): Promise<Agent> {
    if (providerAgentId === undefined || providerAgentId === agent.providerAgentId) return agent;
    await this.linkProviderAgent(agent.id, providerAgentId);
    return { ...agent, providerAgentId };
  }

  async get(actor: Actor, reference: string | number): Promise<Agent> {
    return toAgent(await this.findRow(actor, reference));
  }

  /** The caller's agents; an admin sees everyone's. */
  async list(actor: Actor, page: { limit: number; offset: number }): Promise<Page<Agent>> {
    const owner = isAdmin(actor) ? undefined : actor.userId;
    const [rows, total] = await Promise.all([this.deps.store.list(owner, page), this.deps.store.count(owner)]);
    return { items: rows.map(toAgent), total };
  }

  /** Changes the given fields; a field left out keeps its value, `null` clears it. */
  async update(actor: Actor, reference: string | number, patch: Partial<AgentInput>): Promise<Agent> {
    const row = await this.findRow(actor, reference);
    if (patch.name !== undefined && !patch.name.trim()) throw invalid('name', 'must not be empty');
    await this.requireModel(patch.model);
    const updated = await this.deps.store.update(row.id, {
      ...(patch.name !== undefined && { name: patch.name.trim() }),
      ...(patch.model !== undefined && { model: patch.model }),
      ...(patch.instructions !== undefined && { instructions: patch.instructions }),
      ...(patch.description !== undefined && { description: patch.description }),
      ...(patch.settings !== undefined && {
        settings: JSON.stringify(mergeSettings(toAgent(row).settings, patch.settings)),
      }),
      ...(patch.tools !== undefined && { tools: patch.tools ? JSON.stringify(patch.tools) : null }),
      ...(patch.metadata !== undefined && { metadata: JSON.stringify(patch.metadata) }),
      updated_at: this.now(),
    });
    if (!updated) throw notFound('Agent');
    return this.linked(toAgent(updated), await this.deps.providerAgents?.updated(toAgent(row), toAgent(updated)));
  }

  /** Records the agent's id on its provider (Mistral's Agents API), once created there. */
  async linkProviderAgent(agentId: number, providerAgentId: string | null): Promise<void> {
    await this.deps.store.update(agentId, { provider_agent_id: providerAgentId });
  }

  /** Removes the agent. Its conversations stay, as ordinary conversations without instructions. */
  async delete(actor: Actor, reference: string | number): Promise<Agent> {
    const row = await this.findRow(actor, reference);
    await this.deps.store.delete(row.id);
    await this.deps.providerAgents?.removed(toAgent(row));
    return toAgent(row);
  }

  /** The agent behind a conversation, whoever asks (the conversation's access was checked already). */
  async forConversation(agentId: number): Promise<Agent | undefined> {
    const row = await this.deps.store.findById(agentId);
    return row && toAgent(row);
  }
}
