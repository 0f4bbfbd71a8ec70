import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, signUp } from '../helpers/platform.ts';
import { dialects, type TestServer } from '../helpers/server.ts';
import { sse, startChatServer, type ChatServer } from './conversations-helpers.ts';
import type { Json, WirePrompt } from '../helpers/wire.ts';

const isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;
const promptKeys = [
  'content',
  'created_at',
  'description',
  'id',
  'is_template',
  'metadata',
  'scenario',
  'title',
  'updated_at',
  'usage_count',
];

/**
 * The chat-API dialect's "Prompt Management API" replayed: each curl example as a fetch with the same method,
 * path, headers and body (YOUR_TOKEN is an API key), and each response shape; then ownership, the
 * read-only built-in templates, filters and pagination, preview and use in a chat.
 */
for (const dialect of dialects) {
  describe(`the chat-API dialect prompt management (${dialect})`, () => {
    let chat: ChatServer;
    let server: TestServer;
    let token: string;
    let otherToken: string;
    let promptId: number;

    before(async () => {
      chat = await startChatServer(dialect);
      server = chat.server;
      const user = await signUp(server, 'prompter');
      ({ key: token } = await createKey(server, user.basic));
      const other = await signUp(server, 'stranger');
      ({ key: otherToken } = await createKey(server, other.basic));
    });
    after(() => chat.stop());

    const call = (method: string, path: string, body?: string, auth = token) =>
      fetch(`${server.url}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${auth}`,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body,
      });

    test("curl POST /api/chat/prompts creates the prompt and answers the document's shape", async () => {
      const response = await call(
        'POST',
        '/api/chat/prompts',
        `{
    "title": "Text Summarizer",
    "content": "Summarize the following text: {text}",
    "scenario": "summarization",
    "description": "Generates concise summaries"
  }`,
      );
      assert.equal(response.status, 200);
      const body = (await response.json()) as Json;
      assert.deepEqual(Object.keys(body).sort(), promptKeys);
      assert.ok(Number.isInteger(body.id));
      assert.deepEqual(
        { ...body, id: 0, created_at: '', updated_at: '' },
        {
          id: 0,
          title: 'Text Summarizer',
          content: 'Summarize the following text: {text}',
          scenario: 'summarization',
          description: 'Generates concise summaries',
          metadata: {},
          is_template: false,
          usage_count: 0,
          created_at: '',
          updated_at: '',
        },
      );
      assert.match(body.created_at, isoPattern);
      assert.equal(body.updated_at, body.created_at);
      promptId = body.id;
    });

    test("the request body with metadata (the document's first example) keeps it", async () => {
      const response = await server.api('/api/chat/prompts', {
        method: 'POST',
        auth: token,
        body: {
          title: 'Text Summarizer',
          content: 'Summarize the following text: {text}',
          scenario: 'summarization',
          description: 'Generates concise summaries',
          metadata: { tags: ['summary', 'concise'] },
        },
      });
      assert.equal(response.status, 200);
      assert.deepEqual(response.body.metadata, { tags: ['summary', 'concise'] });
      await server.api(`/api/chat/prompts/${response.body.id}`, { method: 'DELETE', auth: token });
    });

    test('curl GET /api/chat/prompts?scenario=summarization&page=1&page_size=20 lists with the {items,total,page,page_size} envelope', async () => {
      const response = await call('GET', '/api/chat/prompts?scenario=summarization&page=1&page_size=20');
      assert.equal(response.status, 200);
      const body = (await response.json()) as Json;
      assert.deepEqual(Object.keys(body).sort(), ['items', 'page', 'page_size', 'total']);
      assert.equal(body.page, 1);
      assert.equal(body.page_size, 20);
      // The built-in summarization template and the prompt just created.
      assert.equal(body.total, 2);
      assert.deepEqual(
        body.items.map((p: WirePrompt) => [p.scenario, p.is_template]),
        [
          ['summarization', true],
          ['summarization', false],
        ],
      );
      for (const item of body.items) assert.deepEqual(Object.keys(item).sort(), promptKeys);
      assert.equal(body.items[1].id, promptId);
    });

    test('curl POST /api/chat/prompts/preview with prompt_id renders {text} and answers {preview, tokens_used, model_used}', async () => {
      const response = await call(
        'POST',
        '/api/chat/prompts/preview',
        `{
    "prompt_id": ${promptId},
    "variables": {
      "text": "Sample text to summarize"
    }
  }`,
      );
      assert.equal(response.status, 200);
      const body = (await response.json()) as Json;
      // The scripted model echoes what it received: the rendered prompt.
      assert.equal(body.preview, 'Summarize the following text: Sample text to summarize');
      assert.equal(typeof body.model_used, 'string');
      assert.equal(body.tokens_used, 8 + 8); // the scripted upstream counts words
      assert.equal(
        chat.upstream.chatRequests().at(-1)!.body.messages.at(-1).content,
        'Summarize the following text: Sample text to summarize',
      );
      assert.deepEqual(body.unused_variables, []);
      // A preview is not a use.
      assert.equal((await server.api(`/api/chat/prompts/${promptId}`, { auth: token })).body.usage_count, 0);
    });

    test("preview with inline content (the document's second body) and a named model", async () => {
      const response = await server.api('/api/chat/prompts/preview', {
        method: 'POST',
        auth: token,
        body: {
          content: 'Summarize this text: {text}',
          variables: { text: 'Sample text to summarize' },
          model: 'gpt-3.5-turbo',
        },
      });
      assert.equal(response.status, 200);
      assert.equal(response.body.preview, 'Summarize this text: Sample text to summarize');
      assert.equal(response.body.model_used, 'gpt-3.5-turbo');
      assert.equal(chat.upstream.chatRequests().at(-1)!.body.model, 'upstream-gpt-3.5');
    });

    test('preview: a missing variable is a 400 naming it; unknown ones are reported; {{ }} are literal braces; render_only calls no model', async () => {
      const missing = await server.api('/api/chat/prompts/preview', {
        method: 'POST',
        auth: token,
        body: { content: 'Translate {text} into {language}', variables: { text: 'x' } },
      });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.code, 'validation_failed');
      assert.match(missing.body.detail, /\{language\}/);
      assert.doesNotMatch(missing.body.detail, /missing value for \{text\}/);
      const before = chat.upstream.chatRequests().length;
      const rendered = await server.api('/api/chat/prompts/preview', {
        method: 'POST',
        auth: token,
        body: {
          content: 'JSON looks like {{"a": {value}}}',
          variables: { value: '1', extra: 'unused' },
          render_only: true,
        },
      });
      assert.equal(rendered.status, 200);
      assert.deepEqual(rendered.body, {
        rendered: 'JSON looks like {"a": 1}',
        variables: ['value'],
        unused_variables: ['extra'],
      });
      assert.equal(chat.upstream.chatRequests().length, before);
      const neither = await server.api('/api/chat/prompts/preview', {
        method: 'POST',
        auth: token,
        body: { variables: {} },
      });
      assert.equal(neither.status, 400);
    });

    test('curl PUT /api/chat/prompts/{id} with title and content changes those and keeps the rest', async () => {
      const response = await call(
        'PUT',
        `/api/chat/prompts/${promptId}`,
        `{
    "title": "Updated Title",
    "content": "Updated content"
  }`,
      );
      assert.equal(response.status, 200);
      const body = (await response.json()) as Json;
      assert.deepEqual(Object.keys(body).sort(), promptKeys);
      assert.equal(body.title, 'Updated Title');
      assert.equal(body.content, 'Updated content');
      assert.equal(body.scenario, 'summarization');
      assert.equal(body.description, 'Generates concise summaries');
      const full = await server.api(`/api/chat/prompts/${promptId}`, {
        method: 'PUT',
        auth: token,
        body: {
          title: 'Updated Title',
          content: 'Updated content with {variable}',
          scenario: 'new_scenario',
          description: 'Updated description',
        },
      });
      assert.equal(full.status, 200);
      assert.equal(full.body.scenario, 'new_scenario');
      assert.equal(full.body.description, 'Updated description');
      assert.ok(full.body.updated_at >= full.body.created_at);
    });

    test("another user's prompt answers 404 everywhere and stays unchanged", async () => {
      const auth = otherToken;
      assert.equal((await server.api(`/api/chat/prompts/${promptId}`, { auth })).status, 404);
      assert.equal(
        (await server.api(`/api/chat/prompts/${promptId}`, { method: 'PUT', auth, body: { title: 'mine' } })).status,
        404,
      );
      assert.equal((await server.api(`/api/chat/prompts/${promptId}`, { method: 'DELETE', auth })).status, 404);
      const preview = await server.api('/api/chat/prompts/preview', {
        method: 'POST',
        auth,
        body: { prompt_id: promptId, variables: { variable: 'x' }, render_only: true },
      });
      assert.equal(preview.status, 404);
      const listed = await server.api('/api/chat/prompts?include_templates=false', { auth });
      assert.deepEqual(listed.body.items, []);
      assert.equal((await server.api(`/api/chat/prompts/${promptId}`, { auth: token })).body.title, 'Updated Title');
      assert.equal((await server.api('/api/chat/prompts/999999', { auth: token })).status, 404);
      assert.equal((await server.api('/api/chat/prompts/abc', { auth: token })).status, 400);
      assert.equal((await server.api('/api/chat/prompts', { auth: null })).status, 401);
    });

    test('built-in templates are listed (unless include_templates=false), usable, and read-only (403)', async () => {
      const all = await server.api('/api/chat/prompts', { auth: token });
      const templates = all.body.items.filter((p: WirePrompt) => p.is_template);
      assert.deepEqual(templates.map((p: WirePrompt) => p.scenario).sort(), [
        'explanation',
        'summarization',
        'translation',
      ]);
      const mine = await server.api('/api/chat/prompts?include_templates=false', { auth: token });
      assert.ok(mine.body.items.every((p: WirePrompt) => !p.is_template));
      const translation = templates.find((p: WirePrompt) => p.scenario === 'translation');
      assert.equal(
        (await server.api(`/api/chat/prompts/${translation.id}`, { method: 'PUT', auth: token, body: { title: 'x' } }))
          .status,
        403,
      );
      assert.equal(
        (await server.api(`/api/chat/prompts/${translation.id}`, { method: 'DELETE', auth: token })).status,
        403,
      );
      const rendered = await server.api('/api/chat/prompts/preview', {
        method: 'POST',
        auth: otherToken,
        body: { prompt_id: translation.id, variables: { language: 'French', text: 'Good morning' }, render_only: true },
      });
      assert.equal(rendered.status, 200);
      assert.match(rendered.body.rendered, /into French[\s\S]*Good morning/);
    });

    test('filters and pagination: search in title, content and description (case-insensitive, % literal), page and page_size', async () => {
      for (let i = 1; i <= 5; i++) {
        await server.api('/api/chat/prompts', {
          method: 'POST',
          auth: token,
          body: {
            title: `Batch ${i}`,
            content: `Body ${i} {x}`,
            scenario: 'batch',
            description: i === 3 ? 'Has 100% NEEDLE' : null,
          },
        });
      }
      const page = await server.api('/api/chat/prompts?scenario=batch&page=2&page_size=2', { auth: token });
      assert.equal(page.body.total, 5);
      assert.deepEqual(
        page.body.items.map((p: WirePrompt) => p.title),
        ['Batch 3', 'Batch 4'],
      );
      assert.equal(
        (await server.api('/api/chat/prompts?scenario=batch&page=4&page_size=2', { auth: token })).body.items.length,
        0,
      );
      assert.deepEqual(
        (await server.api('/api/chat/prompts?search=needle', { auth: token })).body.items.map(
          (p: WirePrompt) => p.title,
        ),
        ['Batch 3'],
      );
      assert.deepEqual(
        (await server.api('/api/chat/prompts?search=100%25', { auth: token })).body.items.map(
          (p: WirePrompt) => p.title,
        ),
        ['Batch 3'],
      );
      assert.equal((await server.api('/api/chat/prompts?search=BODY%204', { auth: token })).body.total, 1);
      assert.equal(
        (await server.api('/api/chat/prompts?search=batch&include_templates=false', { auth: token })).body.total,
        5,
      );
      assert.equal(
        (await server.api('/api/chat/prompts?search=summarize', { auth: token })).body.items[0].is_template,
        true,
      );
      assert.equal((await server.api('/api/chat/prompts?page_size=101', { auth: token })).status, 400);
      assert.equal((await server.api('/api/chat/prompts', { auth: token })).body.page_size, 20);
    });

    test('prompt_id + variables on /v1/chat/stream: the rendered prompt starts the user message, and usage_count counts the use', async () => {
      const created = await server.api('/api/chat/prompts', {
        method: 'POST',
        auth: token,
        body: { title: 'Echo', content: 'Answer about {topic}:' },
      });
      const response = await sse(server, '/v1/chat/stream', {
        auth: token,
        body: {
          model: 'gpt-4',
          messages: [{ role: 'user', content: 'be brief' }],
          prompt_id: created.body.id,
          variables: { topic: 'tides' },
        },
      });
      assert.equal(response.status, 200);
      assert.equal(
        chat.upstream.chatRequests().at(-1)!.body.messages.at(-1).content,
        'Answer about tides:\n\nbe brief',
      );
      assert.equal((await server.api(`/api/chat/prompts/${created.body.id}`, { auth: token })).body.usage_count, 1);
      // Without text of its own, the rendered prompt is the user message; on the session completion route too.
      const sessionId = response.headers.get('x-session-id');
      const completion = await server.api(`/api/v1/sessions/${sessionId}/models/completions`, {
        method: 'POST',
        auth: token,
        body: { prompt_id: created.body.id, variables: { topic: 'moons' } },
      });
      assert.equal(completion.status, 200);
      assert.equal(completion.body.user_message.content, 'Answer about moons:');
      assert.equal((await server.api(`/api/chat/prompts/${created.body.id}`, { auth: token })).body.usage_count, 2);
      // A refused use (missing variable) is not counted and stores nothing.
      const refused = await sse(server, '/v1/chat/stream', {
        auth: token,
        body: { model: 'gpt-4', messages: [{ role: 'user', content: 'x' }], prompt_id: created.body.id },
      });
      assert.equal(refused.status, 400);
      assert.equal((await server.api(`/api/chat/prompts/${created.body.id}`, { auth: token })).body.usage_count, 2);
      const stranger = await sse(server, '/v1/chat/stream', {
        auth: otherToken,
        body: {
          model: 'gpt-4',
          messages: [{ role: 'user', content: 'x' }],
          prompt_id: created.body.id,
          variables: { topic: 'a' },
        },
      });
      assert.equal(stranger.status, 404);
    });

    test('curl DELETE /api/chat/prompts/{id} answers {"message": "Prompt deleted successfully"}', async () => {
      const response = await call('DELETE', `/api/chat/prompts/${promptId}`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { message: 'Prompt deleted successfully' });
      assert.equal((await server.api(`/api/chat/prompts/${promptId}`, { auth: token })).status, 404);
    });
  });
}
