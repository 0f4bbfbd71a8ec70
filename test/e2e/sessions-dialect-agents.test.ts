import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, signUp } from '../helpers/platform.ts';
import { dialects, type TestServer } from '../helpers/server.ts';
import { sse, startChatServer, upstreamNames, type ChatServer } from './conversations-helpers.ts';
import type { Json, WireAgent } from '../helpers/wire.ts';

/**
 * The sessions dialect ("API Project"), its "Agents" section replayed literally with an API key: create an
 * agent with ?name=, list and read it, send it a prompt without a session (nothing stored but
 * usage) and inside a session (stored, the session becoming the agent's), update and delete it.
 * The scripted upstream's [[echo-prompt]] answers with every message it received, so the tests
 * see the agent's instructions reach the model.
 */
for (const dialect of dialects) {
  describe(`the sessions dialect agents (${dialect})`, () => {
    let chat: ChatServer;
    let server: TestServer;
    let key: string;
    let otherKey: string;
    let agent: Json;

    before(async () => {
      chat = await startChatServer(dialect);
      server = chat.server;
      key = (
        await createKey(server, (await signUp(server, 'capitaine')).basic, { name: 'the sessions dialect agents' })
      ).key;
      otherKey = (await createKey(server, (await signUp(server, 'moussaillon')).basic)).key;
    });
    after(() => chat.stop());

    const api = (
      path: string,
      options: { method?: string; body?: unknown; auth?: string; headers?: Record<string, string> } = {},
    ) => server.api(path, { auth: key, headers: { accept: 'application/json' }, ...options });
    const requestsSoFar = async () => (await api('/api/v1/usage')).body.total.requests as number;

    test('POST /api/v1/models/agents?name={name} creates an agent (201): no body, an empty body, or a body with its other fields', async () => {
      const bare = await api('/api/v1/models/agents?name=Bare', { method: 'POST' });
      assert.equal(bare.status, 201, bare.text);
      assert.deepEqual(Object.keys(bare.body).sort(), [
        'created_at',
        'description',
        'id',
        'instructions',
        'max_tokens',
        'metadata',
        'model',
        'name',
        'provider_agent_id',
        'temperature',
        'tools',
        'top_p',
        'updated_at',
        'user_id',
        'uuid',
        'web_search',
      ]);
      assert.equal(bare.body.name, 'Bare');
      assert.equal(bare.body.model, null);
      // curl -X POST -H 'Content-Type: application/json' with no data
      const empty = await api('/api/v1/models/agents?name=Empty', {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/json' },
      });
      assert.equal(empty.status, 201, empty.text);
      const full = await api(`/api/v1/models/agents?name=${encodeURIComponent('Le Pirate')}`, {
        method: 'POST',
        body: {
          model_id: 'gpt-4',
          instructions: 'Talk like a pirate.',
          description: 'Arr',
          temperature: 0.3,
          max_tokens: 60,
          metadata: { ship: 'Revenge' },
        },
      });
      assert.equal(full.status, 201, full.text);
      agent = full.body;
      assert.equal(agent.name, 'Le Pirate');
      assert.equal(agent.model, 'gpt-4');
      assert.equal(agent.instructions, 'Talk like a pirate.');
      assert.equal(agent.temperature, 0.3);
      assert.equal(agent.top_p, null);
      assert.equal(agent.max_tokens, 60);
      assert.deepEqual(agent.metadata, { ship: 'Revenge' });
      assert.equal(agent.provider_agent_id, null, 'gpt-4 is not on Mistral');

      const noName = await api('/api/v1/models/agents', { method: 'POST' });
      assert.equal(noName.status, 400);
      assert.equal(noName.body.code, 'validation_failed');
      assert.match(noName.body.detail, /^name: /);
      const unknownModel = await api('/api/v1/models/agents?name=X', {
        method: 'POST',
        body: { model_id: 'no-such-model' },
      });
      assert.equal(unknownModel.status, 400);
      assert.match(unknownModel.body.detail, /model/);
      const unknownField = await api('/api/v1/models/agents?name=X', { method: 'POST', body: { colour: 'red' } });
      assert.equal(unknownField.status, 400);
      assert.match(unknownField.body.detail, /colour/);
    });

    test('GET /api/v1/models/agents lists your agents (paged, X-Total-Count); another user sees none of them, an admin sees all', async () => {
      const list = await api('/api/v1/models/agents');
      assert.equal(list.status, 200);
      assert.equal(list.headers.get('x-total-count'), '3');
      assert.deepEqual(
        list.body.map((a: WireAgent) => a.name),
        ['Bare', 'Empty', 'Le Pirate'],
      );
      const page = await api('/api/v1/models/agents?limit=1&offset=2');
      assert.deepEqual(
        page.body.map((a: WireAgent) => a.id),
        [agent.id],
      );
      assert.equal((await api('/api/v1/models/agents?limit=101')).status, 400);
      assert.deepEqual((await api('/api/v1/models/agents', { auth: otherKey })).body, []);
      const all = await api('/api/v1/models/agents', { auth: server.adminKey });
      assert.ok(all.body.some((a: WireAgent) => a.id === agent.id));
    });

    test('GET /api/v1/models/agents/{agent_id} reads an agent by id or UUID; another user gets 404, an admin the agent', async () => {
      const byId = await api(`/api/v1/models/agents/${agent.id}`);
      assert.equal(byId.status, 200);
      assert.deepEqual(byId.body, agent);
      assert.deepEqual((await api(`/api/v1/models/agents/${agent.uuid}`)).body, agent);
      const theirs = await api(`/api/v1/models/agents/${agent.id}`, { auth: otherKey });
      assert.equal(theirs.status, 404);
      assert.equal(theirs.body.code, 'not_found');
      assert.equal((await api(`/api/v1/models/agents/${agent.id}`, { auth: server.adminKey })).status, 200);
      // Like sessions: an id that is neither an integer nor a UUID is a bad request.
      assert.equal((await api('/api/v1/models/agents/not-an-id')).status, 400);
      assert.equal((await api('/api/v1/models/agents/999999')).status, 404);
      // The models routes are not shadowed; a model id starting with "agents/" is read with its slash encoded.
      assert.equal((await api('/api/v1/models/gpt-4')).body.id, 'gpt-4');
      const encoded = await api('/api/v1/models/agents%2Fnone');
      assert.equal(encoded.status, 404);
      assert.match(encoded.body.detail, /Model "agents\/none" not found/);
    });

    test('POST /api/v1/models/agents/{agent_id} answers a prompt without a session: instructions and settings applied, nothing stored but usage', async () => {
      const requestsBefore = await requestsSoFar();
      const answer = await api(`/api/v1/models/agents/${agent.id}`, {
        method: 'POST',
        body: { prompt: '[[echo-prompt]] Where is the treasure?' },
      });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.body.object, 'completion');
      assert.equal(answer.body.model_id, 'gpt-4');
      assert.equal(answer.body.content, 'system: Talk like a pirate.\nuser: [[echo-prompt]] Where is the treasure?');
      assert.ok(answer.body.usage.total_tokens > 0);
      const sent = chat.upstream.chatRequests().at(-1)!;
      assert.equal(sent.body.model, upstreamNames['gpt-4']);
      assert.equal(sent.body.temperature, 0.3);
      assert.equal(sent.body.max_tokens, 60);

      // messages and prompt together: the exchange so far, then the prompt; the request's settings win.
      const both = await api(`/api/v1/models/agents/${agent.uuid}`, {
        method: 'POST',
        body: {
          messages: [
            { role: 'user', content: 'Hello' },
            { role: 'assistant', content: 'Ahoy' },
          ],
          prompt: '[[echo-prompt]] And now?',
          temperature: 1,
        },
      });
      assert.equal(
        both.body.content,
        'system: Talk like a pirate.\nuser: Hello\nassistant: Ahoy\nuser: [[echo-prompt]] And now?',
      );
      assert.equal(chat.upstream.chatRequests().at(-1)!.body.temperature, 1);

      const streamed = await sse(server, `/api/v1/models/agents/${agent.id}`, {
        body: { prompt: 'Yo ho ho', stream: true },
        auth: key,
      });
      assert.equal(streamed.status, 200);
      assert.match(streamed.headers.get('content-type') ?? '', /^text\/event-stream/);
      const frames = streamed.events.map((e) => e.data);
      assert.equal(frames.at(-1), '[DONE]');
      const events = frames.slice(0, -1).map((data) => JSON.parse(data));
      assert.equal(events[0].type, 'start');
      assert.equal(events[0].model_id, 'gpt-4');
      assert.equal(
        events
          .filter((e) => e.type === 'delta')
          .map((e) => e.content)
          .join(''),
        'Yo ho ho',
      );
      assert.equal(events.at(-1).type, 'end');
      assert.equal(events.at(-1).finish_reason, 'stop');

      // The spec's other wording: POST /api/v1/models/completions with the agent's id.
      const viaCompletions = await api('/api/v1/models/completions', {
        method: 'POST',
        body: { agent_id: agent.id, prompt: '[[echo-prompt]] Aye' },
      });
      assert.equal(viaCompletions.status, 200, viaCompletions.text);
      assert.equal(viaCompletions.body.content, 'system: Talk like a pirate.\nuser: [[echo-prompt]] Aye');

      assert.equal((await api('/api/v1/sessions')).headers.get('x-total-count'), '0', 'no session was created');
      assert.equal(await requestsSoFar(), requestsBefore + 4, 'each prompt is in the usage ledger');
      assert.equal((await api(`/api/v1/models/agents/${agent.id}`, { method: 'POST', body: {} })).status, 400);
      assert.equal(
        (await api(`/api/v1/models/agents/${agent.id}`, { method: 'POST', body: { prompt: 'hi' }, auth: otherKey }))
          .status,
        404,
      );
    });

    test('POST /api/v1/sessions/{session_id}/models/agents/{agent_id} answers in a session: stored in its history, the session becomes the agent’s', async () => {
      const session = (await api('/api/v1/sessions', { method: 'POST' })).body;
      const answer = await api(`/api/v1/sessions/${session.id}/models/agents/${agent.id}`, {
        method: 'POST',
        body: { prompt: '[[echo-prompt]] Who are you?' },
      });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.body.session_id, session.id);
      assert.equal(answer.body.model, 'gpt-4');
      assert.equal(answer.body.user_message.content, '[[echo-prompt]] Who are you?');
      assert.equal(answer.body.message.content, 'system: Talk like a pirate.\nuser: [[echo-prompt]] Who are you?');
      const read = (await api(`/api/v1/sessions/${session.id}`)).body;
      assert.equal(read.agent_id, agent.id);
      assert.equal(read.model, 'gpt-4');

      const streamed = await sse(server, `/api/v1/sessions/${session.uuid}/models/agents/${agent.uuid}`, {
        body: { prompt: 'Arr', stream: true },
        auth: key,
      });
      const events = streamed.events
        .map((e) => e.data)
        .slice(0, -1)
        .map((data) => JSON.parse(data));
      assert.equal(events[0].type, 'start');
      assert.equal(events[0].session_id, session.id);
      assert.equal(
        events
          .filter((e) => e.type === 'delta')
          .map((e) => e.content)
          .join(''),
        'Arr',
      );
      assert.equal(events.at(-1).type, 'end');
      assert.equal(events.at(-1).message.content, 'Arr');

      // Later completions in the session, through the plain route, are the agent's too.
      const later = await api(`/api/v1/sessions/${session.id}/models/completions`, {
        method: 'POST',
        body: { prompt: '[[echo-prompt]] Again' },
      });
      assert.match(
        later.body.message.content,
        /^system: Talk like a pirate\.\nuser: \[\[echo-prompt\]\] Who are you\?\nassistant: system: Talk like a pirate\./,
      );
      const history = await api(`/api/v1/sessions/${session.id}/history`);
      assert.equal(history.headers.get('x-total-count'), '6');

      // Someone else's session, or someone else's agent: 404.
      const theirSession = (await api('/api/v1/sessions', { method: 'POST', auth: otherKey })).body;
      assert.equal(
        (
          await api(`/api/v1/sessions/${theirSession.id}/models/agents/${agent.id}`, {
            method: 'POST',
            body: { prompt: 'hi' },
            auth: otherKey,
          })
        ).status,
        404,
      );
      assert.equal(
        (
          await api(`/api/v1/sessions/${theirSession.id}/models/agents/${agent.id}`, {
            method: 'POST',
            body: { prompt: 'hi' },
          })
        ).status,
        404,
      );
    });

    test('a session another agent had is handed to the agent named in the request', async () => {
      const other = (
        await api('/api/v1/models/agents?name=Poet', {
          method: 'POST',
          body: { model_id: 'gpt-3.5-turbo', instructions: 'Answer in verse.' },
        })
      ).body;
      const session = (await api('/api/v1/sessions', { method: 'POST', body: { agent_id: agent.id } })).body;
      assert.equal(session.agent_id, agent.id);
      assert.equal(session.model, 'gpt-4', "the agent's model");
      const answer = await api(`/api/v1/sessions/${session.id}/models/agents/${other.id}`, {
        method: 'POST',
        body: { prompt: '[[echo-prompt]] Sing' },
      });
      assert.equal(answer.body.message.content, 'system: Answer in verse.\nuser: [[echo-prompt]] Sing');
      assert.equal(answer.body.model, 'gpt-3.5-turbo');
      assert.equal((await api(`/api/v1/sessions/${session.id}`)).body.agent_id, other.id);
    });

    test('PATCH and PUT /api/v1/models/agents/{agent_id} change the given fields; null clears; the next prompt sees the change', async () => {
      const patched = await api(`/api/v1/models/agents/${agent.id}`, {
        method: 'PATCH',
        body: { instructions: 'Talk like a parrot.', top_p: 0.5 },
      });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.body.instructions, 'Talk like a parrot.');
      assert.equal(patched.body.temperature, 0.3, 'settings left out stay');
      assert.equal(patched.body.top_p, 0.5);
      const put = await api(`/api/v1/models/agents/${agent.uuid}`, {
        method: 'PUT',
        body: { description: null, max_tokens: null },
      });
      assert.equal(put.status, 200);
      assert.equal(put.body.description, null);
      assert.equal(put.body.max_tokens, null);
      assert.equal(put.body.name, 'Le Pirate');
      const answer = await api(`/api/v1/models/agents/${agent.id}`, {
        method: 'POST',
        body: { prompt: '[[echo-prompt]] Polly?' },
      });
      assert.equal(answer.body.content, 'system: Talk like a parrot.\nuser: [[echo-prompt]] Polly?');
      assert.equal(chat.upstream.chatRequests().at(-1)!.body.top_p, 0.5);
      assert.equal(
        (await api(`/api/v1/models/agents/${agent.id}`, { method: 'PATCH', body: { name: 'Mine' }, auth: otherKey }))
          .status,
        404,
      );
      assert.equal(
        (await api(`/api/v1/models/agents/${agent.id}`, { method: 'PATCH', body: { name: '' } })).status,
        400,
      );
    });

    test('DELETE /api/v1/models/agents/{agent_id} deletes it (204); its sessions stay', async () => {
      const session = (await api('/api/v1/sessions', { method: 'POST', body: { agent_id: agent.uuid } })).body;
      assert.equal((await api(`/api/v1/models/agents/${agent.id}`, { method: 'DELETE', auth: otherKey })).status, 404);
      const removed = await api(`/api/v1/models/agents/${agent.id}`, { method: 'DELETE' });
      assert.equal(removed.status, 204);
      assert.equal((await api(`/api/v1/models/agents/${agent.id}`)).status, 404);
      assert.equal((await api(`/api/v1/models/agents/${agent.id}`, { method: 'DELETE' })).status, 404);
      const after = await api(`/api/v1/sessions/${session.id}/models/completions`, {
        method: 'POST',
        body: { prompt: '[[echo-prompt]] Still there?' },
      });
      assert.equal(after.status, 200);
      assert.equal(after.body.message.content, 'user: [[echo-prompt]] Still there?', 'an ordinary session now');
      assert.equal(
        (
          await api(`/api/v1/sessions/${session.id}/models/agents/${agent.id}`, {
            method: 'POST',
            body: { prompt: 'hi' },
          })
        ).status,
        404,
      );
    });

    test('POST /api/v1/sessions takes the model as model_id (model stays an alias) and an agent_id', async () => {
      const created = await api('/api/v1/sessions', { method: 'POST', body: { model_id: 'gpt-3.5-turbo' } });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.model, 'gpt-3.5-turbo');
      assert.equal(
        (await api('/api/v1/sessions', { method: 'POST', body: { model: 'gpt-4', model_id: 'gpt-4' } })).body.model,
        'gpt-4',
      );
      const differ = await api('/api/v1/sessions', {
        method: 'POST',
        body: { model: 'gpt-4', model_id: 'gpt-3.5-turbo' },
      });
      assert.equal(differ.status, 400);
      assert.match(differ.body.detail, /^model_id: /);
      assert.equal(
        (await api('/api/v1/sessions', { method: 'POST', body: { model_id: 'no-such-model' } })).status,
        400,
      );
      const noAgent = await api('/api/v1/sessions', { method: 'POST', body: { agent_id: 999999 } });
      assert.equal(noAgent.status, 400);
      assert.match(noAgent.body.detail, /^agent_id: /);
      const poet = (await api('/api/v1/models/agents')).body.find((a: WireAgent) => a.name === 'Poet');
      const withModel = await api('/api/v1/sessions', {
        method: 'POST',
        body: { agent_id: poet.id, model_id: 'gpt-4' },
      });
      assert.equal(withModel.body.agent_id, poet.id);
      assert.equal(withModel.body.model, 'gpt-4', 'a model given wins over the agent’s');
      assert.equal(
        (await api('/api/v1/sessions', { method: 'POST', body: { agent_id: poet.id }, auth: otherKey })).status,
        400,
        "another user's agent",
      );
    });
  });
}
