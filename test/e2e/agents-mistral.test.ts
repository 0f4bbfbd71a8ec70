import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, signUp } from '../helpers/platform.ts';
import { startScriptedUpstream } from '../../src/providers/mock/scripted-upstream.ts';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';
import { sse, writeModelsConfig, type ChatServer } from './conversations-helpers.ts';
import type { Json } from '../helpers/wire.ts';

const mistralKey = 'mistral-secret-key-for-tests';

/**
 * Agents whose model is served by the `mistral` provider are mirrored on Mistral's Agents API (the
 * scripted upstream speaks it): created there on create, patched on update, deleted on delete, and
 * their completions go to /v1/agents/completions with the Mistral agent's id.
 */
for (const dialect of dialects) {
  describe(`agents on Mistral's Agents API (${dialect})`, () => {
    let chat: ChatServer;
    let server: TestServer;
    let key: string;
    let agent: Json;
    const logged: string[] = [];
    const write = process.stderr.write.bind(process.stderr);

    before(async () => {
      // The provider "mistral" registered by MISTRAL_API_KEY alone, pointing at the scripted upstream (OpenAI's too).
      const upstream = await startScriptedUpstream();
      const config = writeModelsConfig({ 'mistral-small': { provider: 'mistral', upstream: 'mistral-small-latest' } });
      server = await startTestServer({
        dialect,
        env: {
          OPENAI_BASE_URL: upstream.baseUrl,
          OPENAI_API_KEY: 'test-upstream-key',
          MISTRAL_API_KEY: mistralKey,
          MISTRAL_BASE_URL: upstream.baseUrl,
          CAUSERIE_CONFIG: config.path,
          CAUSERIE_MODELS_REFRESH: '0',
        },
      });
      chat = {
        server,
        upstream,
        async stop() {
          await server.stop();
          await upstream.close();
          config.remove();
        },
      };
      key = (await createKey(server, (await signUp(server, 'mistralienne')).basic)).key;
      process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        logged.push(String(chunk));
        return write(chunk as string, ...(rest as []));
      }) as typeof process.stderr.write;
    });
    after(async () => {
      process.stderr.write = write;
      await chat.stop();
    });

    const api = (path: string, options: { method?: string; body?: unknown } = {}) =>
      server.api(path, { auth: key, ...options });
    const lastAgentRequest = () => chat.upstream.agentRequests().at(-1)!;

    test('creating an agent on a Mistral model creates it on Mistral (POST /v1/agents) and records its id', async () => {
      const created = await api('/api/v1/models/agents?name=Sommelier', {
        method: 'POST',
        body: {
          model_id: 'mistral-small',
          instructions: 'Recommend a wine.',
          description: 'Wine advice',
          temperature: 0.2,
          max_tokens: 80,
          tools: [{ type: 'web_search' }],
        },
      });
      assert.equal(created.status, 201, created.text);
      agent = created.body;
      assert.match(agent.provider_agent_id, /^ag_/);
      const request = lastAgentRequest();
      assert.equal(request.method, 'POST');
      assert.equal(request.path, '/v1/agents');
      assert.equal(request.headers.authorization, `Bearer ${mistralKey}`);
      assert.deepEqual(request.body, {
        model: 'mistral-small-latest',
        name: 'Sommelier',
        description: 'Wine advice',
        instructions: 'Recommend a wine.',
        completion_args: { temperature: 0.2, max_tokens: 80 },
        tools: [{ type: 'web_search' }],
      });
      assert.equal(chat.upstream.agents.get(agent.provider_agent_id)?.name, 'Sommelier');
    });

    test('its completions go to /v1/agents/completions with the Mistral agent id, without and within a session, JSON and streamed', async () => {
      const answer = await api(`/api/v1/models/agents/${agent.id}`, {
        method: 'POST',
        body: { prompt: '[[echo-prompt]] With fish?' },
      });
      assert.equal(answer.status, 200, answer.text);
      // Mistral's agent holds the instructions: Causerie does not repeat them.
      assert.equal(answer.body.content, 'system: Recommend a wine.\nuser: [[echo-prompt]] With fish?');
      const sent = lastAgentRequest();
      assert.equal(sent.path, '/v1/agents/completions');
      assert.equal(sent.body.agent_id, agent.provider_agent_id);
      assert.equal('model' in sent.body, false);
      assert.equal('temperature' in sent.body, false);
      assert.deepEqual(sent.body.messages, [{ role: 'user', content: '[[echo-prompt]] With fish?' }]);

      const session = (await api('/api/v1/sessions', { method: 'POST' })).body;
      const inSession = await api(`/api/v1/sessions/${session.id}/models/agents/${agent.id}`, {
        method: 'POST',
        body: { prompt: '[[echo-prompt]] Red or white?' },
      });
      assert.equal(inSession.status, 200, inSession.text);
      assert.equal(inSession.body.message.content, 'system: Recommend a wine.\nuser: [[echo-prompt]] Red or white?');
      assert.equal(lastAgentRequest().body.agent_id, agent.provider_agent_id);

      const streamed = await sse(server, `/api/v1/sessions/${session.id}/models/agents/${agent.id}`, {
        body: { prompt: 'Champagne', stream: true },
        auth: key,
      });
      const events = streamed.events
        .map((e) => e.data)
        .slice(0, -1)
        .map((data) => JSON.parse(data));
      assert.equal(events.at(-1).type, 'end');
      assert.equal(events.at(-1).message.content, 'Champagne');
      assert.equal(lastAgentRequest().body.stream, true);
      assert.equal(lastAgentRequest().body.agent_id, agent.provider_agent_id);

      // A request that changes a sampling setting the Mistral agent holds goes through chat completions, instructions included.
      const chatsBefore = chat.upstream.chatRequests().length;
      const warmer = await api(`/api/v1/models/agents/${agent.id}`, {
        method: 'POST',
        body: { prompt: '[[echo-prompt]] Surprise me', temperature: 1.2 },
      });
      assert.equal(warmer.body.content, 'system: Recommend a wine.\nuser: [[echo-prompt]] Surprise me');
      assert.equal(chat.upstream.chatRequests().length, chatsBefore + 1);
      assert.equal(chat.upstream.chatRequests().at(-1)!.body.temperature, 1.2);
    });

    test('an update patches the Mistral agent; moving it off Mistral deletes it there; deleting the agent deletes it on Mistral', async () => {
      const patched = await api(`/api/v1/models/agents/${agent.id}`, {
        method: 'PATCH',
        body: { instructions: 'Recommend a cheese.', top_p: 0.9 },
      });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.provider_agent_id, agent.provider_agent_id);
      const request = lastAgentRequest();
      assert.equal(request.method, 'PATCH');
      assert.equal(request.path, `/v1/agents/${agent.provider_agent_id}`);
      assert.equal(request.body.instructions, 'Recommend a cheese.');
      assert.deepEqual(request.body.completion_args, { temperature: 0.2, top_p: 0.9, max_tokens: 80 });
      const mirrored = chat.upstream.agents.get(agent.provider_agent_id)!;
      assert.equal(mirrored.instructions, 'Recommend a cheese.');
      assert.equal(mirrored.version, 1);

      const moved = await api(`/api/v1/models/agents/${agent.id}`, { method: 'PATCH', body: { model_id: 'gpt-4' } });
      assert.equal(moved.body.provider_agent_id, null);
      assert.equal(chat.upstream.agents.has(agent.provider_agent_id), false);
      const back = await api(`/api/v1/models/agents/${agent.id}`, {
        method: 'PATCH',
        body: { model_id: 'mistral-small' },
      });
      assert.match(back.body.provider_agent_id, /^ag_/);
      assert.equal(chat.upstream.agents.get(back.body.provider_agent_id)?.instructions, 'Recommend a cheese.');

      assert.equal((await api(`/api/v1/models/agents/${agent.id}`, { method: 'DELETE' })).status, 204);
      assert.equal(lastAgentRequest().method, 'DELETE');
      assert.equal(chat.upstream.agents.has(back.body.provider_agent_id), false);
    });

    test('when Mistral refuses the agent, the Causerie agent still works (chat completions with its instructions) and the failure is logged without the key', async () => {
      const created = await api('/api/v1/models/agents?name=Broken [[status:400]]', {
        method: 'POST',
        body: { model_id: 'mistral-small', instructions: 'Be terse.' },
      });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.provider_agent_id, null);
      const log = logged.join('');
      assert.match(log, new RegExp(`cannot create agent ${created.body.id} on provider \\\\?"mistral\\\\?"`));
      assert.doesNotMatch(log, new RegExp(mistralKey));
      const answer = await api(`/api/v1/models/agents/${created.body.id}`, {
        method: 'POST',
        body: { prompt: '[[echo-prompt]] Hi' },
      });
      assert.equal(answer.body.content, 'system: Be terse.\nuser: [[echo-prompt]] Hi');
      assert.equal(chat.upstream.chatRequests().at(-1)!.body.model, 'mistral-small-latest');
    });

    test('a copy deleted in Mistral’s console: the prompt is answered with the instructions, the link dropped, and the next update recreates it', async () => {
      const created = (
        await api('/api/v1/models/agents?name=Fleeting', {
          method: 'POST',
          body: { model_id: 'mistral-small', instructions: 'Be brief.' },
        })
      ).body;
      chat.upstream.agents.delete(created.provider_agent_id);
      const answer = await api(`/api/v1/models/agents/${created.id}`, {
        method: 'POST',
        body: { prompt: '[[echo-prompt]] Still?' },
      });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.body.content, 'system: Be brief.\nuser: [[echo-prompt]] Still?');
      assert.equal((await api(`/api/v1/models/agents/${created.id}`)).body.provider_agent_id, null);
      const recreated = await api(`/api/v1/models/agents/${created.id}`, {
        method: 'PATCH',
        body: { description: 'back' },
      });
      assert.match(recreated.body.provider_agent_id, /^ag_/);

      chat.upstream.agents.delete(recreated.body.provider_agent_id);
      const session = (await api('/api/v1/sessions', { method: 'POST' })).body;
      const inSession = await api(`/api/v1/sessions/${session.id}/models/agents/${created.id}`, {
        method: 'POST',
        body: { prompt: '[[echo-prompt]] Again?' },
      });
      assert.equal(inSession.status, 200, inSession.text);
      assert.equal(inSession.body.message.content, 'system: Be brief.\nuser: [[echo-prompt]] Again?');
      assert.equal(
        (await api(`/api/v1/sessions/${session.id}/history`)).headers.get('x-total-count'),
        '2',
        'the failed attempt left nothing',
      );
    });
  });
}
