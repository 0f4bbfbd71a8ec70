import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { startServer } from '../../src/main.ts';
import { createKey, runCli, signUp } from '../helpers/platform.ts';
import type { TestServer } from '../helpers/server.ts';
import { startChatServer, type ChatServer } from './conversations-helpers.ts';

const ids = (response: { body: Array<{ id: string }> }) => response.body.map((m) => m.id);

describe('a removed model can be restored', () => {
  let chat: ChatServer;
  let server: TestServer;
  let userKey: string;
  before(async () => {
    chat = await startChatServer('sqlite');
    server = chat.server;
    userKey = (await createKey(server, (await signUp(server, 'restorer-user')).basic)).key;
  });
  after(() => chat.stop());

  test('admins list removed models and restore one over HTTP; users may not', async () => {
    assert.equal((await server.api('/api/v1/models/gpt-3.5-turbo', { method: 'DELETE' })).status, 200);
    const removed = await server.api('/api/v1/models/removed');
    assert.equal(removed.status, 200);
    assert.deepEqual(ids(removed), ['gpt-3.5-turbo']);
    assert.match(removed.body[0].removed_at, /^\d{4}-\d\d-\d\dT/);
    assert.equal((await server.api('/api/v1/models/removed', { auth: userKey })).status, 403);
    assert.equal(
      (await server.api('/api/v1/models/removed/gpt-3.5-turbo', { method: 'DELETE', auth: userKey })).status,
      403,
    );

    const restored = await server.api('/api/v1/models/removed/gpt-3.5-turbo', { method: 'DELETE' });
    assert.equal(restored.status, 200, restored.text);
    assert.deepEqual(restored.body, { id: 'gpt-3.5-turbo', restored: true, listed: true });
    assert.ok(ids(await server.api('/api/v1/models')).includes('gpt-3.5-turbo'));
    assert.deepEqual((await server.api('/api/v1/models/removed')).body, []);
    const again = await server.api('/api/v1/models/removed/gpt-3.5-turbo', { method: 'DELETE' });
    assert.equal(again.status, 404);
    assert.match(again.body.detail, /is not a removed model/);
    const answer = await server.api('/v1/chat/completions', {
      method: 'POST',
      body: { model: 'gpt-3.5-turbo', messages: [{ role: 'user', content: 'back' }] },
    });
    assert.equal(answer.status, 200, answer.text);
  });

  test('the CLI lists and restores removed models; a restart lists the model again', async () => {
    assert.equal((await server.api('/api/v1/models/gpt-4', { method: 'DELETE' })).status, 200);
    await server.app.close();
    await server.services.close();
    const env = Object.fromEntries(Object.entries(server.env).filter(([name]) => name !== 'HOST' && name !== 'PORT'));
    const listed = await runCli(['models', 'removed'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^gpt-4\tremoved \d{4}-/);
    const restored = await runCli(['models', 'restore', 'gpt-4'], env);
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(restored.stdout.trim(), 'Restored model "gpt-4".');
    const unknown = await runCli(['models', 'restore', 'gpt-4'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^causerie: Model "gpt-4" is not a removed model/);
    const restarted = await startServer(loadConfig(server.env), { logger: false, print: () => {} });
    try {
      const list = await fetch(`${restarted.url}/api/v1/models`, {
        headers: { authorization: `Bearer ${server.adminKey}` },
      });
      assert.ok(((await list.json()) as Array<{ id: string }>).map((m) => m.id).includes('gpt-4'));
    } finally {
      await restarted.close();
    }
  });
});
