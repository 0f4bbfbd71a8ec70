import type { OpenApiDocument } from './fuzz/requests.ts';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Operation } from './fuzz/requests.ts';
import type { FuzzWorld } from './fuzz/world.ts';
import { contentTypeOf, isAdminOnly, isAuthenticated, minimalValue, send, startWorld } from './owasp-helpers.ts';
import { dialects } from '../helpers/server.ts';

/**
 * OWASP API5:2023, broken function-level authorization. The full role × route matrix, generated
 * from the OpenAPI document: anonymous, a user, an admin, an agent's public key (PUB_…) and a
 * visitor's client token (pct_…) call every operation with a valid body. Routes that need
 * credentials answer 401 to the anonymous caller and to public keys and client tokens (those open
 * the public routes only); routes the document marks "(admin)" answer 403 to a user and not to an
 * admin; no other route answers 403 "Administrator role required" to anyone.
 */
for (const dialect of dialects) {
  describe(`API5 function-level authorization: the role × route matrix from the route table (${dialect})`, () => {
    let world: FuzzWorld;
    let operations: Operation[];
    let document: OpenApiDocument;
    before(async () => {
      ({ world, operations, document } = await startWorld(dialect));
    });
    after(() => world.stop());

    test('each role gets exactly the functions its role allows, on every route', async () => {
      const roles = {
        anonymous: undefined,
        user: world.authorization('api_key', 0),
        admin: world.authorization('admin', 0),
        public_key: world.authorization('public_key', 0),
        client_token: world.authorization('client_token', 0),
      };
      const wrong: string[] = [];
      let adminRoutes = 0;
      let authenticatedRoutes = 0;
      for (const op of operations.filter((op) => op.method !== 'OPTIONS')) {
        // Ids that name nothing: what is checked here is the function, before any object.
        const path = op.path.replace(/\{[^}]+\}/g, '999999');
        const body =
          op.body?.mediaType === 'application/json' ? JSON.stringify(minimalValue(op.body.schema)) : undefined;
        const answers: Record<string, number> = {};
        for (const [role, authorization] of Object.entries(roles)) {
          // Destructive admin functions are called with ids that name nothing, so the matrix changes nothing.
          const answer = await send(world, {
            method: op.method,
            path,
            authorization,
            body,
            headers: { 'content-type': contentTypeOf(op) },
          });
          answers[role] = answer.status;
          if (answer.status === 403 && /Administrator role required/.test(answer.text) && !isAdminOnly(document, op))
            wrong.push(`${op.method} ${op.path}: 403 "Administrator role required" to ${role}, but not marked (admin)`);
        }
        const name = `${op.method} ${op.path} ${JSON.stringify(answers)}`;
        if (isAuthenticated(document, op)) {
          authenticatedRoutes++;
          for (const role of ['anonymous', 'public_key', 'client_token'])
            if (answers[role] !== 401 && !op.path.includes('/public/'))
              wrong.push(`${name}: ${role} not refused with 401`);
          if (answers.user === 401) wrong.push(`${name}: a user's API key refused`);
        } else if (answers.anonymous === 401 && !op.path.includes('/public/')) {
          wrong.push(`${name}: declares no security but refuses the anonymous caller`);
        }
        if (isAdminOnly(document, op)) {
          adminRoutes++;
          if (answers.user !== 403) wrong.push(`${name}: admin route not refused (403) to a user`);
          if ([401, 403].includes(answers.admin!)) wrong.push(`${name}: admin route refused to the admin`);
        }
      }
      assert.ok(authenticatedRoutes >= 60, `only ${authenticatedRoutes} authenticated routes in the document`);
      assert.ok(adminRoutes >= 10, `only ${adminRoutes} admin routes in the document`);
      assert.deepEqual(wrong, []);
    });

    test('the token route gives client tokens to public keys only', async () => {
      const agent = world.resources.agents!.at(-1)!.id;
      const mint = (authorization: string | undefined) =>
        send(world, {
          method: 'GET',
          path: `/v1/chat/conversation/public/message/token/${agent}`,
          authorization,
          headers: { origin: 'https://shop.example', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0' },
        });
      // An API key, an access token, Basic or an admin key is not a public key: no client token for it.
      for (const kind of ['api_key', 'access_token', 'basic', 'admin', 'client_token'] as const)
        assert.ok([401, 404].includes((await mint(world.authorization(kind, 0))).status), kind);
      assert.equal((await mint(world.authorization('public_key', 0))).status, 200);
    });
  });
}
