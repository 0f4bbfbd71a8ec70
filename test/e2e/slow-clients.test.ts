import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** Opens a connection, sends `text`, and resolves with everything the server sent once it closes the connection. */
function sendAndWaitForClose(url: string, text: string): Promise<{ received: string; socket: net.Socket }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(text));
    socket.setEncoding('utf8').on('data', (data: string) => (received += data));
    socket.on('error', reject);
    socket.on('close', () => resolve({ received, socket }));
  });
}

describe('clients that send slowly or open too many connections', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      env: { CAUSERIE_REQUEST_TIMEOUT_MS: '400', CAUSERIE_MAX_CONNECTIONS: '4', CAUSERIE_MOCK_PROVIDER: 'true' },
    });
  });
  after(() => server.stop());

  test('a body that never finishes is answered 408 and the connection closed, without credentials', async () => {
    const { received } = await sendAndWaitForClose(
      server.url,
      'POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    );
    assert.match(received, /^HTTP\/1\.1 408/);
    assert.match(received, /"code":"request_timeout"/);
  });

  test('headers that never finish are cut off too', async () => {
    const { received } = await sendAndWaitForClose(server.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a');
    assert.match(received, /^HTTP\/1\.1 408/);
  });

  test('answers are not limited by it: a stream longer than the request timeout arrives whole', async () => {
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'mock/echo',
        stream: true,
        messages: [{ role: 'user', content: 'one two three four five six [[chunk-delay:150]]' }],
      }),
    });
    assert.equal(response.status, 200);
    const text = (await response.text())
      .split('\n\n')
      .map((frame) => frame.replace(/^id: .*\n/, ''))
      .filter((frame) => frame.startsWith('data: {'))
      .map((frame) => JSON.parse(frame.slice(6)).choices[0]?.delta?.content ?? '')
      .join('');
    assert.equal(text, 'one two three four five six');
  });

  test('beyond CAUSERIE_MAX_CONNECTIONS, new connections are closed at once', async () => {
    const { port } = new URL(server.url);
    const open: net.Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const socket = net.connect(Number(port), '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      open.push(socket);
    }
    try {
      const { received } = await sendAndWaitForClose(server.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(received, '', 'the fifth connection is dropped without an answer');
    } finally {
      for (const socket of open) socket.destroy();
    }
  });
});
