import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createKey, signUp } from '../helpers/platform.ts';
import { dialects, type TestServer } from '../helpers/server.ts';
import { fileForm, makeEncryptedPdf, makeManyPagesPdf, makePdf } from '../fixtures/pdfs.ts';
import { sse, startChatServer, type ChatServer } from './conversations-helpers.ts';
import type { Json, WireMessage } from '../helpers/wire.ts';

const fiveParagraphs = [
  ['Causerie field guide, chapter one.', 'The lighthouse keeper counts ships at dawn.'],
  ['Chapter two.', 'The secret harbour code is TANGERINE-42.'],
  ['Chapter three.', 'Tides rise twice a day.'],
  ['Chapter four.', 'Gulls nest on the cliffs.'],
  ['Chapter five.', 'The end.'],
];

// Built once for both dialects: drawing 5,000 pages takes pdf-lib a few seconds.
let hugePdf: Promise<Uint8Array> | undefined;

/** Every file that the content-addressed store holds. */
const storedFiles = (dataDir: string) =>
  readdirSync(join(dataDir, 'files'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);

/**
 * The chat-API dialect's "File Upload API" replayed: the curl example as a fetch with a multipart form, the
 * response shape, its notes (PDF only, 10 MB, content used as context), and what users expect
 * beside it: listing, downloading and deleting a session's files.
 */
for (const dialect of dialects) {
  describe(`the chat-API dialect file upload (${dialect})`, () => {
    let chat: ChatServer;
    let server: TestServer;
    let token: string;
    let otherToken: string;
    let sessionId: number;
    let fileId: number;
    let pdf: Uint8Array;

    before(async () => {
      chat = await startChatServer(
        dialect,
        { CAUSERIE_PDF_MAX_PAGES: '500' },
        { 'tiny-window': { provider: 'openai', upstream: 'tiny', context_window: 2048 } },
      );
      server = chat.server;
      const user = await signUp(server, 'reader');
      ({ key: token } = await createKey(server, user.basic));
      const other = await signUp(server, 'intruder');
      ({ key: otherToken } = await createKey(server, other.basic));
      const session = await server.api('/api/v1/sessions', { method: 'POST', auth: token, body: { model: 'gpt-4' } });
      sessionId = session.body.id;
      pdf = await makePdf(fiveParagraphs);
    });
    after(() => chat.stop());

    const upload = (form: FormData, session: number | string = sessionId, auth = token) =>
      fetch(`${server.url}/api/chat/sessions/${session}/upload`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${auth}` },
        body: form,
      });

    test('curl -F "file=@document.pdf" …/sessions/123/upload answers {file: {id, filename, file_size, mime_type, extracted_text, metadata: {page_count}}, message}', async () => {
      const response = await upload(fileForm(pdf));
      assert.equal(response.status, 200);
      const body = (await response.json()) as Json;
      assert.equal(body.message, 'File uploaded successfully');
      assert.ok(Number.isInteger(body.file.id));
      assert.equal(body.file.filename, 'document.pdf');
      assert.equal(body.file.file_size, pdf.byteLength);
      assert.equal(body.file.mime_type, 'application/pdf');
      assert.equal(body.file.metadata.page_count, 5);
      assert.equal(body.file.metadata.truncated, null);
      assert.match(
        body.file.extracted_text,
        /^Causerie field guide, chapter one\.\nThe lighthouse keeper counts ships at dawn\.\n\nChapter two\.\nThe secret harbour code is TANGERINE-42\./,
      );
      assert.ok(body.file.chunk_count >= 1);
      fileId = body.file.id;
    });

    test('the document answers a question in the session: the model receives its text, named by file and page, and the reply records the chunks', async () => {
      const response = await sse(server, '/v1/chat/stream', {
        auth: token,
        body: {
          session_id: sessionId,
          messages: [{ role: 'user', content: 'What is the harbour code? [[echo-prompt]]' }],
        },
      });
      assert.equal(response.status, 200);
      const reply = response.events
        .map((e) => e.data)
        .slice(0, -1)
        .join('');
      assert.match(reply, /^system: The user attached documents/);
      assert.match(reply, /\[document\.pdf, pages? 1.*chunk 0\]/);
      assert.match(reply, /The secret harbour code is TANGERINE-42\./);
      assert.match(reply, /user: What is the harbour code\?/);
      const history = await server.api(`/api/v1/sessions/${sessionId}/history`, { auth: token });
      const stored = history.body.at(-1);
      assert.equal(stored.role, 'assistant');
      assert.deepEqual(stored.metadata, { documents: [{ file_id: fileId, filename: 'document.pdf', chunks: [0] }] });
    });

    test('a file larger than 10 MB (10 MB + 1 byte) is refused with 413', async () => {
      const big = new Uint8Array(10 * 1024 * 1024 + 1).fill(0x20);
      big.set(new TextEncoder().encode('%PDF-1.7\n'));
      const response = await upload(fileForm(big, 'big.pdf'));
      assert.equal(response.status, 413);
      assert.equal(((await response.json()) as Json).code, 'payload_too_large');
    });

    test('an upload far over the limit is answered 413 as soon as the limit is crossed: the rest is not read', async () => {
      const total = 200 * 1024 * 1024;
      const { host, hostname, port } = new URL(server.url);
      const result = await new Promise<{ response: string; sent: number }>((resolve) => {
        const socket = connect({ host: hostname, port: Number(port) });
        let response = '';
        let sent = 0;
        socket.on('data', (data) => (response += data.toString('latin1')));
        // The server closing while we still write is the point: EPIPE/ECONNRESET are expected.
        socket.on('error', () => {});
        socket.on('close', () => resolve({ response, sent }));
        const head = `--b\r\nContent-Disposition: form-data; name="file"; filename="huge.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n`;
        socket.write(
          `POST /api/chat/sessions/${sessionId}/upload HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\n` +
            `Content-Type: multipart/form-data; boundary=b\r\nContent-Length: ${head.length + total + 8}\r\n\r\n${head}`,
        );
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        const pump = () => {
          while (sent < total && !socket.destroyed) {
            sent += chunk.length;
            if (!socket.write(chunk)) return void socket.once('drain', pump);
          }
          if (!socket.destroyed) socket.end('\r\n--b--\r\n');
        };
        pump();
      });
      assert.ok(result.sent < total, `the server read all ${result.sent} bytes`);
      // Closing a socket with unread bytes sends a reset, which may make the client's kernel drop
      // the answer before it is read; when it arrives, it is the 413. (The status itself is
      // checked reliably by the 10 MB + 1 byte test above.)
      if (result.response) {
        assert.match(result.response, /^HTTP\/1\.1 413 /);
        assert.match(result.response, /connection: close/i);
      }
    });

    test('a file that is not a PDF is refused with 415, whatever its name and declared type', async () => {
      const response = await upload(
        fileForm(new TextEncoder().encode('<script>alert(1)</script>'), 'notes.pdf', 'application/pdf'),
      );
      assert.equal(response.status, 415);
      const body = (await response.json()) as Json;
      assert.equal(body.code, 'unsupported_media_type');
      assert.match(body.detail, /not a PDF/);
    });

    test('encrypted, damaged and textless PDFs are refused with a clear 422', async () => {
      const encrypted = await upload(fileForm(await makeEncryptedPdf(), 'locked.pdf'));
      assert.equal(encrypted.status, 422);
      const body = (await encrypted.json()) as Json;
      assert.equal(body.code, 'unreadable_document');
      assert.match(body.detail, /encrypted/);
      const damaged = await upload(fileForm(new TextEncoder().encode('%PDF-1.7\nnothing else\n%%EOF'), 'broken.pdf'));
      assert.equal(damaged.status, 422);
      assert.match(((await damaged.json()) as Json).detail, /damaged/);
      const empty = await upload(fileForm(await makePdf([[], []]), 'blank.pdf'));
      assert.equal(empty.status, 422);
      assert.match(((await empty.json()) as Json).detail, /no text/);
      // Nothing was kept of them.
      assert.equal((await server.api(`/api/chat/sessions/${sessionId}/files`, { auth: token })).body.files.length, 1);
    });

    test('a 5,000-page PDF is cut at the page limit (or the time limit), and the server answers other requests while it is read', async () => {
      hugePdf ??= makeManyPagesPdf(5000);
      const huge = await hugePdf;
      const order: string[] = [];
      const started = new Promise<void>((resolve) =>
        server.services.documents.extractor.once('start', () => resolve()),
      );
      const uploading = upload(fileForm(huge, 'report.pdf')).then(async (response) => {
        order.push('upload');
        return response;
      });
      await started;
      const health = await fetch(`${server.url}/healthz`);
      order.push('other request');
      assert.equal(health.status, 200);
      const response = await uploading;
      assert.deepEqual(order, ['other request', 'upload']);
      assert.equal(response.status, 200);
      const body = (await response.json()) as Json;
      assert.equal(body.file.metadata.page_count, 5000);
      // Cut at the page limit, or earlier by the time limit on a very busy machine: never read whole.
      const { pages_extracted: extracted, truncated } = body.file.metadata;
      assert.ok(
        truncated === 'pages' ? extracted === 500 : truncated === 'time' && extracted < 500,
        `${truncated} after ${extracted} pages`,
      );
      assert.match(body.file.extracted_text, new RegExp(`Page ${extracted} of a very long report\\.$`));
      await server.api(`/api/chat/sessions/${sessionId}/files/${body.file.id}`, { method: 'DELETE', auth: token });
    });

    test("the session must be yours: bad id 400, unknown 404, another user's 404; multipart is refused (415) by JSON routes", async () => {
      assert.equal((await upload(fileForm(pdf), 'not-an-id')).status, 400);
      assert.equal((await upload(fileForm(pdf), 999999)).status, 404);
      assert.equal((await upload(fileForm(pdf), sessionId, otherToken)).status, 404);
      assert.equal((await server.api(`/api/chat/sessions/${sessionId}/files`, { auth: otherToken })).status, 404);
      assert.equal(
        (await server.api(`/api/chat/sessions/${sessionId}/files/${fileId}`, { auth: otherToken })).status,
        404,
      );
      assert.equal(
        (await server.api(`/api/chat/sessions/${sessionId}/files/${fileId}`, { method: 'DELETE', auth: otherToken }))
          .status,
        404,
      );
      const unauthenticated = await fetch(`${server.url}/api/chat/sessions/${sessionId}/upload`, {
        method: 'POST',
        body: fileForm(pdf),
      });
      assert.equal(unauthenticated.status, 401);
      const multipartElsewhere = await fetch(`${server.url}/api/chat/prompts`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
        body: fileForm(pdf),
      });
      assert.equal(multipartElsewhere.status, 415);
      const json = await server.api(`/api/chat/sessions/${sessionId}/upload`, {
        method: 'POST',
        auth: token,
        body: { file: 'x' },
      });
      assert.equal(json.status, 415);
      const wrongField = new FormData();
      wrongField.append('document', new Blob([pdf as Uint8Array<ArrayBuffer>]), 'document.pdf');
      assert.equal((await upload(wrongField)).status, 400);
    });

    test("list, read and download a session's files; the download is an attachment that browsers will not render", async () => {
      const list = await server.api(`/api/chat/sessions/${sessionId}/files`, { auth: token });
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.files.map((f: { id: string; filename: string; metadata: { page_count: number } }) => [
          f.id,
          f.filename,
          f.metadata.page_count,
        ]),
        [[fileId, 'document.pdf', 5]],
      );
      assert.equal(list.body.files[0].extracted_text, undefined);
      const one = await server.api(`/api/chat/sessions/${sessionId}/files/${fileId}`, { auth: token });
      assert.match(one.body.extracted_text, /TANGERINE-42/);
      const download = await fetch(`${server.url}/api/chat/sessions/${sessionId}/files/${fileId}/content`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      assert.equal(download.status, 200);
      assert.equal(download.headers.get('content-type'), 'application/pdf');
      assert.match(download.headers.get('content-disposition')!, /^attachment; filename="document\.pdf"/);
      assert.equal(download.headers.get('x-content-type-options'), 'nosniff');
      assert.deepEqual(new Uint8Array(await download.arrayBuffer()), pdf);
    });

    test('the same content is stored once; deleting a file removes its chunks from the context, then its bytes', async () => {
      const second = await server.api('/api/v1/sessions', { method: 'POST', auth: token, body: { model: 'gpt-4' } });
      const copy = await upload(fileForm(pdf, 'copy.pdf'), second.body.id);
      assert.equal(copy.status, 200);
      const copyId = ((await copy.json()) as Json).file.id;
      assert.equal(storedFiles(server.env.CAUSERIE_DATA_DIR!).length, 1);
      const deleted = await server.api(`/api/chat/sessions/${second.body.id}/files/${copyId}`, {
        method: 'DELETE',
        auth: token,
      });
      assert.deepEqual(deleted.body, { message: 'File deleted successfully' });
      // The other session still holds that content.
      assert.equal(storedFiles(server.env.CAUSERIE_DATA_DIR!).length, 1);
      await server.api(`/api/chat/sessions/${sessionId}/files/${fileId}`, { method: 'DELETE', auth: token });
      assert.equal(storedFiles(server.env.CAUSERIE_DATA_DIR!).length, 0);
      const response = await sse(server, '/v1/chat/stream', {
        auth: token,
        body: { session_id: sessionId, messages: [{ role: 'user', content: 'And now?' }] },
      });
      assert.equal(response.status, 200);
      const sent = chat.upstream.chatRequests().at(-1)!.body.messages;
      assert.equal(sent.filter((m: WireMessage) => m.role === 'system').length, 0);
      const history = await server.api(`/api/v1/sessions/${sessionId}/history`, { auth: token });
      assert.equal(history.body.at(-1).metadata, null);
    });

    test("when the documents do not fit the model's window, the chunks that best match the question are given", async () => {
      const session = await server.api('/api/v1/sessions', {
        method: 'POST',
        auth: token,
        body: { model: 'tiny-window' },
      });
      const topics = [
        'volcanoes',
        'glaciers',
        'deserts',
        'rainforests',
        'coral reefs',
        'tundra',
        'savannas',
        'wetlands',
        'mangroves',
        'prairies',
        'canyons',
        'fjords',
      ];
      const pages = topics.map((topic, i) =>
        Array.from({ length: 30 }, (_, line) =>
          line === 7 && i === 9
            ? 'Bison graze the prairies under the Zephyrine winds.'
            : `This page is about ${topic}, line ${line}, with ordinary words.`,
        ),
      );
      const response = await upload(fileForm(await makePdf(pages), 'atlas.pdf'), session.body.id);
      assert.equal(response.status, 200);
      const chunkCount = ((await response.json()) as Json).file.chunk_count;
      const reply = await sse(server, '/v1/chat/stream', {
        auth: token,
        body: {
          session_id: session.body.id,
          messages: [{ role: 'user', content: 'Which winds blow over the prairies?' }],
        },
      });
      assert.equal(reply.status, 200);
      const [context] = chat.upstream.chatRequests().at(-1)!.body.messages;
      assert.equal(context.role, 'system');
      assert.match(context.content, /\[atlas\.pdf, pages? [\d-]+, chunk \d+\]\n[^[]*Zephyrine winds/);
      const history = await server.api(`/api/v1/sessions/${session.body.id}/history`, { auth: token });
      const used = history.body.at(-1).metadata.documents[0];
      assert.equal(used.filename, 'atlas.pdf');
      assert.ok(
        used.chunks.length > 0 && used.chunks.length < chunkCount,
        `${used.chunks.length} of ${chunkCount} chunks`,
      );
    });

    test('deleting the session deletes its files and their chunks', async () => {
      const session = await server.api('/api/v1/sessions', { method: 'POST', auth: token, body: { model: 'gpt-4' } });
      const uploaded = await upload(
        fileForm(await makePdf([['A short-lived document.']]), 'temp.pdf'),
        session.body.id,
      );
      assert.equal(uploaded.status, 200);
      const gone = await server.api(`/v1/chat/sessions/${session.body.id}`, { method: 'DELETE', auth: token });
      assert.equal(gone.status, 200);
      assert.equal((await server.api(`/api/chat/sessions/${session.body.id}/files`, { auth: token })).status, 404);
      const { db } = server.services.sql;
      assert.equal(
        (await db.selectFrom('documents').selectAll().where('conversation_id', '=', session.body.id).execute()).length,
        0,
      );
      assert.equal(
        (await db.selectFrom('document_chunks').selectAll().where('conversation_id', '=', session.body.id).execute())
          .length,
        0,
      );
      // Its bytes go with the next sweep of unused files.
      const before = storedFiles(server.env.CAUSERIE_DATA_DIR!).length;
      assert.ok((await server.services.documents.sweepOrphans(0)) >= 1);
      assert.equal(storedFiles(server.env.CAUSERIE_DATA_DIR!).length, before - 1);
    });
  });
}
