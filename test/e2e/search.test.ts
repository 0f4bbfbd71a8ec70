import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, signUp } from '../helpers/platform.ts';
import { dialects, type TestServer } from '../helpers/server.ts';
import { fileForm, makePdf } from '../fixtures/pdfs.ts';
import { eventually, startChatServer, type ChatServer } from './conversations-helpers.ts';
import type { Json, WireSearchHit } from '../helpers/wire.ts';

/** The scripted upstream serves real GloVe word vectors as model "glove" (close meanings are close). */
const gloveModel = { glove: { provider: 'openai', upstream: 'glove', capabilities: ['embeddings'] } };

const kitten = 'The kitten slept on the rug all afternoon';
const cafe = 'Le café était très bon ce matin, merci';
const bank = 'The bank raised its interest rates on loans and mortgages';
const volcano = 'Volcanoes erupt molten lava from deep underground';

/**
 * Search over one's own history, on both databases: keyword hits with marked snippets (accents
 * folded), semantic hits sharing no word with the query, hybrid fusion, filters, ownership, and
 * deleted messages and conversations gone at once.
 */
for (const dialect of dialects) {
  describe(`search over your conversations (${dialect})`, () => {
    let chat: ChatServer;
    let server: TestServer;
    let alice: string;
    let bob: string;
    const ids: Record<string, number> = {};
    let pets: Json;
    let money: Json;
    let session: Json;

    const search = (auth: string, params: Record<string, string | number>) =>
      server.api(`/api/v1/search?${new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))}`, {
        auth,
      });
    const contents = (answer: Json) => answer.results.map((r: WireSearchHit) => r.snippet.replace(/<\/?mark>/g, ''));

    before(async () => {
      chat = await startChatServer(
        dialect,
        { CAUSERIE_EMBEDDING_MODEL: 'glove', CAUSERIE_SEARCH_INDEX_POLL_MS: '50' },
        gloveModel,
      );
      server = chat.server;
      const aliceUser = await signUp(server, 'alice-search');
      alice = (await createKey(server, aliceUser.basic)).key;
      bob = (await createKey(server, (await signUp(server, 'bob-search')).basic)).key;
      const add = async (auth: string, conversation: Json, content: string) => {
        const response = await server.api(`/conversations/${conversation.id}/messages`, {
          method: 'POST',
          body: { content },
          auth,
        });
        assert.equal(response.status, 201, response.text);
        return response.body.id as number;
      };
      pets = (
        await server.api('/conversations', {
          method: 'POST',
          body: { title: 'Pets', user_id: aliceUser.id },
          auth: alice,
        })
      ).body;
      money = (
        await server.api('/conversations', {
          method: 'POST',
          body: { title: 'Money', user_id: aliceUser.id },
          auth: alice,
        })
      ).body;
      ids.kitten = await add(alice, pets, kitten);
      ids.cafe = await add(alice, pets, cafe);
      ids.bank = await add(alice, money, bank);
      const bobs = (await server.api('/api/v1/sessions', { method: 'POST', body: { title: 'Bob' }, auth: bob })).body;
      await server.api(`/conversations/${bobs.id}/messages`, {
        method: 'POST',
        body: { content: 'My kitten sleeps on a rug too' },
        auth: bob,
      });
      // A completion: the user's message and, once finished, the reply are indexed.
      session = (
        await server.api('/api/v1/sessions', {
          method: 'POST',
          body: { title: 'Geology', model: 'gpt-4' },
          auth: alice,
        })
      ).body;
      const completion = await server.api(`/api/v1/sessions/${session.id}/models/completions`, {
        method: 'POST',
        body: { prompt: `Tell me about mountains [[reply:${volcano}]]` },
        auth: alice,
      });
      assert.equal(completion.status, 200, completion.text);
    });
    after(() => chat.stop());

    test('a finished reply is found by its words as soon as the answer is back, with the words marked', async () => {
      // The prompt scripting the reply holds the same words: the reply is the assistant's hit.
      const answer = (await search(alice, { q: 'molten LAVA', mode: 'keyword', role: 'assistant' })).body;
      assert.equal(answer.mode, 'keyword');
      assert.equal(answer.results.length, 1);
      const [hit] = answer.results;
      assert.equal(hit.role, 'assistant');
      assert.equal(hit.conversation_id, session.id);
      assert.equal(hit.conversation_title, 'Geology');
      assert.equal(hit.model, 'gpt-4');
      assert.equal(hit.snippet, 'Volcanoes erupt <mark>molten</mark> <mark>lava</mark> from deep underground');
      assert.ok(hit.score > 0);
      assert.ok(hit.created_at);
    });

    test('keyword search folds accents and case, French and English alike', async () => {
      for (const q of ['cafe', 'CAFÉ', 'très']) {
        const answer = (await search(alice, { q, mode: 'keyword' })).body;
        assert.deepEqual(
          answer.results.map((r: WireSearchHit) => r.message_id),
          [ids.cafe],
          q,
        );
      }
      const [hit] = (await search(alice, { q: 'cafe tres', mode: 'keyword' })).body.results;
      assert.equal(hit.snippet, 'Le <mark>café</mark> était <mark>très</mark> bon ce matin, merci');
      assert.equal(hit.conversation_title, 'Pets');
    });

    test('indexing reaches every message; the status route says how far it is', async () => {
      const status = await eventually(
        async () => {
          const response = await server.api('/api/v1/search/status', { auth: alice });
          assert.equal(response.status, 200);
          return response.body.pending === 0 && response.body.done === response.body.indexed
            ? response.body
            : undefined;
        },
        { what: 'every message embedded' },
      );
      assert.equal(status.model, 'glove');
      assert.equal(status.semantic_available, true);
      assert.equal(status.failed, 0);
      assert.equal(status.indexed, 6, "alice's four messages and the reply, bob's one");
      if (dialect === 'postgres') assert.equal(status.pgvector, false);
    });

    test('semantic search finds a message that shares no word with the query, and ranks unrelated text last', async () => {
      const q = 'cat rested carpet';
      assert.deepEqual((await search(alice, { q, mode: 'keyword' })).body.results, [], 'no message holds these words');
      const answer = (await search(alice, { q, mode: 'semantic' })).body;
      assert.equal(answer.mode, 'semantic');
      assert.equal(answer.results[0].message_id, ids.kitten);
      assert.equal(answer.results[0].snippet, kitten, 'no word to mark');
      const bankAt = answer.results.findIndex((r: WireSearchHit) => r.message_id === ids.bank);
      assert.ok(bankAt > 0, 'the banking message comes after');
      assert.ok(answer.results[0].score > answer.results[bankAt].score + 0.2);
      assert.equal(typeof answer.embedding_ms, 'number');
    });

    test('hybrid (the default) puts what both halves found first, and adds what only meaning found', async () => {
      const keyword = (await search(alice, { q: 'kitten', mode: 'keyword' })).body;
      assert.deepEqual(
        keyword.results.map((r: WireSearchHit) => r.message_id),
        [ids.kitten],
      );
      const hybrid = (await search(alice, { q: 'kitten' })).body;
      assert.equal(hybrid.mode, 'hybrid');
      assert.equal(hybrid.semantic_available, true);
      assert.equal(hybrid.results[0].message_id, ids.kitten);
      assert.equal(hybrid.results[0].snippet, 'The <mark>kitten</mark> slept on the rug all afternoon');
      assert.ok(hybrid.results.length > 1, 'semantic neighbours follow');
      const scores = hybrid.results.map((r: WireSearchHit) => r.score);
      assert.deepEqual(
        scores,
        [...scores].sort((a, b) => b - a),
      );
    });

    test("another user's messages never appear; admins may name a user, others get 404", async () => {
      for (const mode of ['keyword', 'semantic', 'hybrid']) {
        const mine = (await search(alice, { q: 'kitten rug', mode })).body;
        assert.ok(
          mine.results.every(
            (r: WireSearchHit) =>
              !contents(mine).includes('My kitten sleeps on a rug too') && r.conversation_title !== 'Bob',
          ),
          mode,
        );
        const bobs = (await search(bob, { q: 'kitten rug', mode })).body;
        assert.deepEqual(contents(bobs), ['My kitten sleeps on a rug too'], mode);
      }
      assert.equal((await search(bob, { q: 'kitten', user: 'alice-search' })).status, 404);
      const asAdmin = await search(server.adminKey, { q: 'kitten', mode: 'keyword', user: 'alice-search' });
      assert.deepEqual(
        asAdmin.body.results.map((r: WireSearchHit) => r.message_id),
        [ids.kitten],
      );
      assert.deepEqual(
        (await search(server.adminKey, { q: 'kitten', mode: 'keyword' })).body.results,
        [],
        "the admin's own history is empty",
      );
    });

    test('filters: conversation, role, model and dates', async () => {
      const inMoney = (await search(alice, { q: 'kitten bank', mode: 'semantic', conversation_id: money.id })).body;
      assert.deepEqual(
        inMoney.results.map((r: WireSearchHit) => r.message_id),
        [ids.bank],
      );
      const replies = (await search(alice, { q: 'lava kitten bank', mode: 'semantic', role: 'assistant' })).body;
      assert.deepEqual(
        replies.results.map((r: WireSearchHit) => r.role),
        ['assistant'],
      );
      const ofModel = (await search(alice, { q: 'lava', model: 'gpt-4' })).body;
      assert.ok(ofModel.results.length >= 1 && ofModel.results.every((r: WireSearchHit) => r.model === 'gpt-4'));
      assert.deepEqual((await search(alice, { q: 'kitten', to: '2000-01-01' })).body.results, []);
      assert.equal(
        (await search(alice, { q: 'kitten', mode: 'keyword', from: '2000-01-01', to: '2999-12-31' })).body.results
          .length,
        1,
      );
      assert.equal(
        (await search(bob, { q: 'kitten', conversation_id: pets.id })).status,
        404,
        "someone else's conversation",
      );
    });

    test('bad parameters answer 400 naming the parameter', async () => {
      const cases: Array<[Record<string, string | number>, string]> = [
        [{ q: 'x', mode: 'fuzzy' }, 'mode'],
        [{ q: 'x', limit: 101 }, 'limit'],
        [{ q: 'x', limit: 0 }, 'limit'],
        [{ q: '' }, 'q'],
        [{ q: 'x', from: 'yesterday' }, 'from'],
        [{ q: 'x', to: '2026-13-45' }, 'to'],
        [{ q: 'x', role: 'robot' }, 'role'],
      ];
      for (const [params, name] of cases) {
        const response = await search(alice, params);
        assert.equal(response.status, 400, JSON.stringify(params));
        assert.equal(response.body.code, 'validation_failed');
        assert.match(response.body.detail, new RegExp(name), JSON.stringify(params));
      }
      assert.equal((await server.api('/api/v1/search', { auth: alice })).status, 400, 'q is required');
      assert.equal((await server.api('/api/v1/search?q=kitten', { auth: null })).status, 401);
    });

    test("spec 001's GET /search answers the same", async () => {
      const response = await server.api('/search?q=cafe&mode=keyword', { auth: alice });
      assert.equal(response.status, 200);
      assert.deepEqual(
        response.body.results.map((r: WireSearchHit) => r.message_id),
        [ids.cafe],
      );
    });

    test('a deleted message and a deleted conversation disappear at once, in every mode', async () => {
      const deleted = await server.api(`/api/v1/messages/${ids.cafe}`, { method: 'DELETE', auth: alice });
      assert.equal(deleted.status, 204);
      for (const mode of ['keyword', 'semantic', 'hybrid']) {
        const answer = (await search(alice, { q: 'café très bon', mode, limit: 100 })).body;
        assert.ok(
          answer.results.every((r: WireSearchHit) => r.message_id !== ids.cafe),
          mode,
        );
      }
      assert.equal((await server.api(`/api/v1/sessions/${money.id}`, { method: 'DELETE', auth: alice })).status, 204);
      for (const mode of ['keyword', 'semantic', 'hybrid']) {
        const answer = (await search(alice, { q: 'bank interest rates', mode, limit: 100 })).body;
        assert.ok(
          answer.results.every((r: WireSearchHit) => r.conversation_id !== money.id),
          mode,
        );
      }
      const status = (await server.api('/api/v1/search/status', { auth: alice })).body;
      assert.equal(status.indexed, 4);
    });

    test('passages of uploaded PDFs are found too, marked as documents, and leave the results once the file is deleted', async () => {
      const form = fileForm(await makePdf([['The aquarium holds tropical fish and a coral reef.']]), 'aquarium.pdf');
      const uploaded = await fetch(`${server.url}/api/chat/sessions/${pets.id}/upload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice}` },
        body: form,
      });
      assert.equal(uploaded.status, 200, await uploaded.clone().text());
      const file = (await uploaded.json()).file;
      const [hit] = (await search(alice, { q: 'coral reef', mode: 'keyword' })).body.results;
      assert.equal(hit.kind, 'document');
      assert.deepEqual(hit.document, {
        file_id: file.id,
        filename: 'aquarium.pdf',
        chunk_index: 0,
        page_from: 1,
        page_to: 1,
      });
      assert.equal(hit.message_id, null);
      assert.equal(hit.conversation_id, pets.id);
      assert.match(hit.snippet, /<mark>coral<\/mark> <mark>reef<\/mark>/);
      assert.deepEqual(
        (await search(alice, { q: 'coral reef', mode: 'keyword', role: 'user' })).body.results,
        [],
        'a role filter means messages',
      );
      assert.deepEqual((await search(bob, { q: 'coral reef', mode: 'keyword' })).body.results, []);
      await eventually(
        async () => {
          const status = (await server.api('/api/v1/search/status', { auth: alice })).body;
          return status.pending === 0 && status.done === status.indexed ? status : undefined;
        },
        { what: 'the passage embedded' },
      );
      const semantic = (await search(alice, { q: 'goldfish swimming in water', mode: 'semantic' })).body.results;
      assert.ok(
        semantic.some((r: WireSearchHit) => r.kind === 'document' && r.document.file_id === file.id),
        JSON.stringify(semantic.map((r: WireSearchHit) => r.snippet)),
      );
      const deleted = await server.api(`/api/chat/sessions/${pets.id}/files/${file.id}`, {
        method: 'DELETE',
        auth: alice,
      });
      assert.ok(deleted.status < 300, deleted.text);
      for (const mode of ['keyword', 'semantic', 'hybrid']) {
        const results = (await search(alice, { q: 'coral reef aquarium', mode })).body.results;
        assert.ok(!results.some((r: WireSearchHit) => r.kind === 'document'), mode);
      }
    });
  });

  describe(`search without an embedding model (${dialect})`, () => {
    let chat: ChatServer;
    before(async () => {
      chat = await startChatServer(dialect);
    });
    after(() => chat.stop());

    test('answers in keyword mode and says so; the status names no model', async () => {
      const { server } = chat;
      const conversation = (await server.api('/api/v1/sessions', { method: 'POST', body: { title: 'Notes' } })).body;
      await server.api(`/conversations/${conversation.id}/messages`, {
        method: 'POST',
        body: { content: 'Remember the élève de Lyon' },
      });
      for (const mode of ['hybrid', 'semantic', 'keyword']) {
        const answer = (await server.api(`/api/v1/search?q=eleve&mode=${mode}`)).body;
        assert.equal(answer.mode, 'keyword');
        assert.equal(answer.semantic_available, false);
        assert.equal(answer.results.length, 1);
        assert.equal(answer.results[0].snippet, 'Remember the <mark>élève</mark> de Lyon');
        if (mode === 'keyword') assert.equal(answer.notice, undefined);
        else assert.match(answer.notice, /keyword/);
      }
      const status = (await server.api('/api/v1/search/status')).body;
      assert.deepEqual(
        [status.model, status.semantic_available, status.indexed, status.pending, status.done],
        [null, false, 1, 0, 0],
      );
    });
  });
}
