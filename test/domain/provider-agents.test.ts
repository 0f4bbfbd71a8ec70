import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Agent } from '../../src/domain/agents/agents.types.ts';
import { ProviderAgentSync } from '../../src/domain/agents/provider-agents.ts';
import { AppError } from '../../src/domain/errors.ts';
import { ProviderError } from '../../src/providers/provider-error.ts';
import type { Provider, ProviderAgentDefinition } from '../../src/providers/provider.ts';

/** A provider keeping agents in memory, and one without agents. */
function providers() {
  const calls: Array<[string, string | undefined, ProviderAgentDefinition | undefined]> = [];
  let next = 0;
  let failCreate = false;
  const mistral = {
    id: 'mistral',
    kind: 'openai-compatible',
    stream: async () => [],
    agents: {
      async create(definition: ProviderAgentDefinition) {
        calls.push(['create', undefined, definition]);
        if (failCreate)
          throw new ProviderError('mistral', 'failed', 'Provider "mistral" failed (upstream 500): boom', {
            status: 500,
          });
        return { id: `ag_${++next}` };
      },
      async update(id: string, definition: ProviderAgentDefinition) {
        calls.push(['update', id, definition]);
        if (id === 'ag_gone')
          throw new ProviderError('mistral', 'rejected', 'Provider "mistral" answered 404: not found', { status: 404 });
      },
      async remove(id: string) {
        calls.push(['remove', id, undefined]);
      },
    },
  } as unknown as Provider;
  const openai = { id: 'openai', kind: 'openai-compatible', stream: async () => [] } as unknown as Provider;
  const byModel: Record<string, { entry: { upstream: string }; provider: Provider }> = {
    'mistral/small': { entry: { upstream: 'mistral-small-latest' }, provider: mistral },
    'mistral/large': { entry: { upstream: 'mistral-large-latest' }, provider: mistral },
    'gpt-4': { entry: { upstream: 'gpt-4' }, provider: openai },
  };
  const warnings: string[] = [];
  const sync = new ProviderAgentSync({
    resolve: async (model) => {
      const found = byModel[model];
      if (!found) throw new AppError('not_found', 'no such model');
      return found;
    },
    warn: (message) => warnings.push(message),
  });
  return { sync, calls, warnings, failCreates: () => (failCreate = true) };
}

const agent = (fields: Partial<Agent> = {}): Agent => ({
  id: 1,
  uuid: '00000000-0000-4000-8000-000000000001',
  userId: 1,
  name: 'Sommelier',
  model: 'mistral/small',
  instructions: 'Recommend a wine.',
  description: null,
  settings: { temperature: 0.2 },
  tools: null,
  metadata: {},
  providerAgentId: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  ...fields,
});

describe('provider agents (the Mistral mirror)', () => {
  test('an agent is created only on a provider with agents, with its upstream model, instructions and settings', async () => {
    const { sync, calls } = providers();
    assert.equal(await sync.created(agent()), 'ag_1');
    assert.deepEqual(calls[0]![2], {
      model: 'mistral-small-latest',
      name: 'Sommelier',
      description: null,
      instructions: 'Recommend a wine.',
      completion_args: { temperature: 0.2, top_p: undefined, max_tokens: undefined },
      tools: null,
    });
    assert.equal(await sync.created(agent({ model: 'gpt-4' })), null);
    assert.equal(await sync.created(agent({ model: null })), null, 'the default model is not mirrored');
    assert.equal(calls.length, 1);
  });

  test('a refused creation is logged and leaves the agent unlinked', async () => {
    const { sync, warnings, failCreates } = providers();
    failCreates();
    assert.equal(await sync.created(agent()), null);
    assert.match(warnings[0]!, /cannot create agent 1 on provider "mistral": .*boom/);
  });

  test('updates patch in place, move the copy off or onto the provider, and recreate a copy that is gone', async () => {
    const { sync, calls } = providers();
    const linked = agent({ providerAgentId: 'ag_7' });
    assert.equal(await sync.updated(linked, agent({ providerAgentId: 'ag_7', model: 'mistral/large' })), 'ag_7');
    assert.deepEqual(calls.at(-1)!.slice(0, 2), ['update', 'ag_7']);
    assert.equal(calls.at(-1)![2]!.model, 'mistral-large-latest');
    assert.equal(await sync.updated(linked, agent({ providerAgentId: 'ag_7', model: 'gpt-4' })), null);
    assert.deepEqual(calls.at(-1)!.slice(0, 2), ['remove', 'ag_7']);
    assert.equal(await sync.updated(agent({ model: 'gpt-4' }), agent()), 'ag_1');
    assert.equal(
      await sync.updated(agent({ providerAgentId: 'ag_gone' }), agent({ providerAgentId: 'ag_gone' })),
      'ag_2',
    );
  });

  test('the copy answers only with the agent’s own model and sampling settings', async () => {
    const { sync } = providers();
    const linked = agent({ providerAgentId: 'ag_7', settings: { temperature: 0.2, topP: 0.9 } });
    assert.equal(await sync.route(linked, 'mistral/small', {}), 'ag_7');
    assert.equal(
      await sync.route(linked, 'mistral/small', { temperature: 0.2, top_p: 0.9 }),
      'ag_7',
      'the same values change nothing',
    );
    assert.equal(await sync.route(linked, 'mistral/small', { temperature: 1 }), undefined);
    assert.equal(await sync.route(linked, 'mistral/small', { top_p: 0.5 }), undefined);
    assert.equal(await sync.route(linked, 'mistral/large', {}), undefined);
    assert.equal(await sync.route(agent(), 'mistral/small', {}), undefined, 'no copy');
  });
});
