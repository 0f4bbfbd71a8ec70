import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { signUp, type SignedUpUser } from '../helpers/platform.ts';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';

/** The console's sign-in, as a browser does it: JSON with the page's Origin, a cookie back. */
for (const dialect of dialects) {
  describe(`console sign-in routes (${dialect})`, () => {
    let server: TestServer;
    let alice: SignedUpUser;
    let origin: string;

    before(async () => {
      server = await startTestServer({ dialect });
      alice = await signUp(server, 'alice');
      origin = server.url;
    });
    after(async () => server?.stop());

    const post = (path: string, init: { body?: unknown; cookie?: string; origin?: string | null; method?: string }) =>
      fetch(`${server.url}${path}`, {
        method: init.method ?? 'POST',
        headers: {
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(init.origin === null ? {} : { origin: init.origin ?? origin }),
          ...(init.cookie ? { cookie: init.cookie } : {}),
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
    const cookieOf = (response: Response) => {
      const header = response.headers.get('set-cookie') ?? '';
      return { header, pair: header.split(';')[0]! };
    };
    const signIn = async () => {
      const response = await post('/console/sign-in', { body: { username: 'alice', password: alice.password } });
      assert.equal(response.status, 200);
      return { response, body: (await response.json()) as Record<string, unknown>, cookie: cookieOf(response) };
    };

    test('signing in answers an access token and sets the refresh token as a strict HttpOnly cookie for the token route', async () => {
      const { response, body, cookie } = await signIn();
      assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'token_type']);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.match(
        cookie.header,
        /^causerie_console=[^;]+; Path=\/console\/token; Max-Age=\d+; HttpOnly; SameSite=Strict$/,
      );
      // Over plain HTTP the cookie cannot be Secure (the browser would drop it); over HTTPS it is.
      const me = await server.api('/api/v1/me', { auth: String(body.access_token) });
      assert.equal(me.body.user.username, 'alice');
      assert.equal(me.body.authenticated_with, 'access_token');
    });

    test('the cookie alone renews the access token, once: the refresh token rotates', async () => {
      const { cookie } = await signIn();
      const renewed = await post('/console/token', { cookie: cookie.pair });
      assert.equal(renewed.status, 200);
      const token = ((await renewed.json()) as { access_token: string }).access_token;
      assert.equal((await server.api('/api/v1/me', { auth: token })).status, 200);
      const next = cookieOf(renewed);
      assert.notEqual(next.pair, cookie.pair);
      // The old cookie was used: replaying it ends the whole sign-in, the new cookie included.
      const replay = await post('/console/token', { cookie: cookie.pair });
      assert.equal(replay.status, 401);
      assert.equal(replay.headers.get('www-authenticate'), 'Bearer realm="causerie-console"');
      assert.match(cookieOf(replay).header, /Max-Age=0/);
      assert.equal((await post('/console/token', { cookie: next.pair })).status, 401);
    });

    test('another site, or no Origin at all, cannot use the cookie or sign in', async () => {
      const { cookie } = await signIn();
      for (const bad of ['https://evil.example', 'null', null]) {
        const renewed = await post('/console/token', { cookie: cookie.pair, origin: bad });
        assert.equal(renewed.status, 403, String(bad));
        assert.match(((await renewed.json()) as { detail: string }).detail, /Origin/);
        const signInElsewhere = await post('/console/sign-in', {
          body: { username: 'alice', password: alice.password },
          origin: bad,
        });
        assert.equal(signInElsewhere.status, 403);
        assert.equal(signInElsewhere.headers.get('set-cookie'), null);
      }
      // The cookie still works from the console itself: the refused attempts did not spend it.
      assert.equal((await post('/console/token', { cookie: cookie.pair })).status, 200);
    });

    test('a page served over HTTPS gets a Secure cookie', async () => {
      const response = await post('/console/sign-in', {
        body: { username: 'alice', password: alice.password },
        origin: origin.replace('http:', 'https:'),
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('set-cookie') ?? '', /; Secure$/);
    });

    test('a wrong password is 401 with no cookie; the API routes ignore the cookie', async () => {
      const wrong = await post('/console/sign-in', { body: { username: 'alice', password: 'not the password' } });
      assert.equal(wrong.status, 401);
      assert.deepEqual(await wrong.json(), { detail: 'Invalid username or password', code: 'unauthorized' });
      assert.equal(wrong.headers.get('set-cookie'), null);
      const missing = await post('/console/sign-in', { body: { username: 'alice' } });
      assert.equal(missing.status, 400);
      assert.match(((await missing.json()) as { detail: string }).detail, /password/);
      const { cookie } = await signIn();
      const me = await fetch(`${server.url}/api/v1/me`, { headers: { cookie: cookie.pair, origin } });
      assert.equal(me.status, 401);
      assert.equal((await post('/console/token', {})).status, 401);
      for (const junk of ['causerie_console=%E0%A4%A', 'causerie_console=', 'causerie_console=nope; other=1'])
        assert.equal((await post('/console/token', { cookie: junk })).status, 401, junk);
    });

    test('signing out revokes the sign-in: its access token and cookie stop working', async () => {
      const { body, cookie } = await signIn();
      const out = await post('/console/token', { method: 'DELETE', cookie: cookie.pair });
      assert.equal(out.status, 204);
      assert.match(cookieOf(out).header, /^causerie_console=; Path=\/console\/token; Max-Age=0/);
      assert.equal((await server.api('/api/v1/me', { auth: String(body.access_token) })).status, 401);
      assert.equal((await post('/console/token', { cookie: cookie.pair })).status, 401);
    });

    test('the page carries a strict content security policy and its files are a fixed set', async () => {
      const page = await fetch(`${server.url}/console`);
      assert.equal(page.status, 200);
      const policy = page.headers.get('content-security-policy') ?? '';
      assert.match(policy, /script-src 'self'/);
      assert.match(policy, /style-src 'self'/);
      assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval/);
      const html = await page.text();
      assert.doesNotMatch(html, /<script>|style=/);
      const script = await fetch(`${server.url}/console/assets/app.js`);
      assert.equal(script.status, 200);
      assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
      for (const path of ['/console/assets/nothing.js', '/console/assets/..%2Fpages.ts', '/console/assets/index.html'])
        assert.ok([400, 404].includes((await fetch(`${server.url}${path}`)).status), path);
    });
  });
}
