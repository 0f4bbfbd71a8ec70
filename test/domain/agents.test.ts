import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { systemClock } from '../../src/domain/clock.ts';
import { agentEnricher } from '../../src/domain/agents/agent-enricher.ts';
import { AgentsService } from '../../src/domain/agents/agents.service.ts';
import { AgentsStore } from '../../src/domain/agents/agents.store.ts';
import { ConversationsStore } from '../../src/domain/conversations/conversations.store.ts';
import type { Actor } from '../../src/domain/users/users.service.ts';
import { UsersService } from '../../src/domain/users/users.service.ts';
import { UsersStore } from '../../src/domain/users/users.store.ts';
import type { SqlStore } from '../../src/stores/sql/database.ts';
import { dialects, openTestSql } from '../helpers/server.ts';

for (const dialect of dialects) {
  describe(`agents service (${dialect})`, () => {
    let sql: SqlStore;
    let cleanup: () => Promise<void>;
    let agents: AgentsService;
    let conversations: ConversationsStore;
    let alice: Actor;
    let bob: Actor;
    const admin: Actor = { userId: 0, role: 'admin' };

    before(async () => {
      const opened = await openTestSql(dialect);
      sql = opened.sql;
      cleanup = opened.close;
      const users = new UsersService({ store: new UsersStore(sql.db), clock: systemClock, allowSignup: true });
      alice = {
        userId: (await users.create(admin, { username: 'alice', password: 'alice-password' })).id,
        role: 'user',
      };
      bob = { userId: (await users.create(admin, { username: 'bob', password: 'bob-password-1' })).id, role: 'user' };
      agents = new AgentsService({
        store: new AgentsStore(sql.db),
        modelExists: async (model) => model === 'gpt-4',
        clock: systemClock,
      });
      conversations = new ConversationsStore(sql.db);
    });
    after(() => cleanup());

    test('an agent belongs to its owner: others get 404, admins see all; unknown models and empty names are refused', async () => {
      const agent = await agents.create(alice, {
        name: ' Pirate ',
        model: 'gpt-4',
        instructions: 'Talk like a pirate.',
        settings: { temperature: 0.2 },
      });
      assert.equal(agent.name, 'Pirate');
      assert.deepEqual(agent.settings, { temperature: 0.2 });
      assert.equal((await agents.get(alice, agent.uuid)).id, agent.id);
      assert.equal((await agents.get(alice, String(agent.id))).uuid, agent.uuid);
      await assert.rejects(agents.get(bob, agent.id), { code: 'not_found' });
      await assert.rejects(agents.update(bob, agent.id, { name: 'Mine' }), { code: 'not_found' });
      await assert.rejects(agents.delete(bob, agent.id), { code: 'not_found' });
      assert.equal((await agents.get(admin, agent.id)).name, 'Pirate');
      await assert.rejects(agents.create(alice, { name: 'x', model: 'no-such-model' }), {
        code: 'validation_failed',
        field: 'model',
      });
      await assert.rejects(agents.create(alice, { name: '   ' }), { code: 'validation_failed', field: 'name' });
      assert.deepEqual((await agents.list(bob, { limit: 10, offset: 0 })).items, []);
      const mine = await agents.list(alice, { limit: 10, offset: 0 });
      assert.deepEqual(
        mine.items.map((a) => a.id),
        [agent.id],
      );
      assert.equal((await agents.list(admin, { limit: 10, offset: 0 })).total >= 1, true);
    });

    test('update changes only the given fields, null clears; delete removes it', async () => {
      const agent = await agents.create(alice, { name: 'Helper', description: 'helps', instructions: 'Be kind.' });
      const updated = await agents.update(alice, agent.uuid, { description: null, settings: { maxTokens: 40 } });
      assert.equal(updated.name, 'Helper');
      assert.equal(updated.description, null);
      assert.equal(updated.instructions, 'Be kind.');
      assert.deepEqual(updated.settings, { maxTokens: 40 });
      await agents.delete(alice, agent.id);
      await assert.rejects(agents.get(alice, agent.id), { code: 'not_found' });
    });

    test("in an agent's conversation the model sees its instructions first and gets its settings; others are untouched", async () => {
      const agent = await agents.create(alice, {
        name: 'Tutor',
        instructions: 'Answer in French.',
        settings: { temperature: 0.3, topP: 0.9 },
      });
      const now = new Date().toISOString();
      const row = (agentId: number | null) =>
        conversations.insertConversation({
          uuid: crypto.randomUUID(),
          user_id: alice.userId,
          api_key_id: null,
          title: null,
          model: null,
          agent_id: agentId,
          system_prompt: 'Be brief.',
          metadata: '{}',
          created_at: now,
          updated_at: now,
        });
      const enricher = agentEnricher(agents);
      const input = {
        actor: alice,
        model: 'gpt-4',
        options: {},
        signal: new AbortController().signal,
        messages: [
          { role: 'system' as const, content: 'Be brief.' },
          { role: 'user' as const, content: 'Hi' },
        ],
      };
      const enriched = await enricher.enrich({ ...input, conversation: await row(agent.id) });
      assert.deepEqual(
        enriched?.messages?.map((m) => m.content),
        ['Answer in French.', 'Be brief.', 'Hi'],
      );
      assert.deepEqual(enriched?.settings, { temperature: 0.3, top_p: 0.9, max_tokens: undefined });
      assert.deepEqual(enriched?.metadata, { agent: { id: agent.id, uuid: agent.uuid, name: 'Tutor' } });
      assert.equal(await enricher.enrich({ ...input, conversation: await row(null) }), undefined);
      await agents.delete(alice, agent.id);
      assert.equal(
        await enricher.enrich({ ...input, conversation: await row(agent.id) }),
        undefined,
        'a removed agent leaves an ordinary conversation',
      );
    });
  });
}
