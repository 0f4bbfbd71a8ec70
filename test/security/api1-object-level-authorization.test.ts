import type { OpenApiDocument } from './fuzz/requests.ts';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { passwordGrant } from '../helpers/platform.ts';
import { dialects } from '../helpers/server.ts';
import type { Operation } from './fuzz/requests.ts';
import type { FuzzWorld } from './fuzz/world.ts';
import {
  contentTypeOf,
  idForms,
  isAdminOnly,
  ownedParams,
  ownersBody,
  ownersPath,
  send,
  startWorld,
} from './owasp-helpers.ts';

/**
 * OWASP API1:2023, broken object-level authorization. Generated from the OpenAPI document: every
 * operation whose path names something a user owns is called by another user, with each of their
 * credentials (API key, access token, Basic), naming the owner's resource in every id form
 * (integer, UUID, upper-case UUID). Each must answer 404 (or 403 on an admin route), never act,
 * and the owner's data must be unchanged afterwards. (test/e2e/security-ownership.test.ts walks the
 * same ground by hand with bodies that reach deeper; this one cannot miss a new route.)
 */
for (const dialect of dialects) {
  describe(`API1 object-level authorization: every id-taking route × another user × every id form (${dialect})`, () => {
    let world: FuzzWorld;
    let operations: Operation[];
    let document: OpenApiDocument;
    before(async () => {
      ({ world, operations, document } = await startWorld(dialect));
    });
    after(() => world.stop());

    const ownersView = async () => {
      const auth = world.user.basic;
      const read = async (path: string) => (await world.server.api(path, { auth })).text;
      const views = [await read('/api/v1/sessions?limit=100'), await read('/api/v1/models/agents?limit=100')];
      for (const session of world.resources.sessions!) views.push(await read(`/api/v1/sessions/${session.id}/history`));
      views.push(await read('/api/v1/keys?limit=100'), await read('/api/chat/prompts'));
      views.push(await read(`/api/v1/agents/${world.resources.agents![0]!.id}/public-keys`));
      return views;
    };

    test("another user gets 404 (403 on admin routes) for the owner's resources, and nothing changes", async () => {
      const intruder = world.other;
      const tokens = await passwordGrant(world.server, intruder.username, intruder.password);
      const credentials = {
        api_key: `Bearer ${intruder.key}`,
        access_token: `Bearer ${tokens.access_token}`,
        basic: intruder.basic,
      };
      // A CORS preflight carries no credentials and reads nothing.
      const targets = operations.filter(
        (op) =>
          op.method !== 'OPTIONS' &&
          [...op.path.matchAll(/\{([^}]+)\}/g)].some(([, name]) => ownedParams.has(name!) && name !== 'token'),
      );
      assert.ok(targets.length >= 30, `only ${targets.length} id-taking operations found`);
      for (const authorization of Object.values(credentials))
        assert.equal((await send(world, { method: 'GET', path: '/api/v1/me', authorization })).status, 200);
      const before = await ownersView();
      const wrong: string[] = [];
      let calls = 0;
      for (const op of targets) {
        for (const form of idForms) {
          for (const [kind, authorization] of Object.entries(credentials)) {
            const path = ownersPath(world, op, form);
            const answer = await send(world, {
              method: op.method,
              path,
              authorization,
              body: ownersBody(world, op, form),
              headers: { 'content-type': contentTypeOf(op) },
            });
            calls++;
            // The public routes want their own credentials (a public key, a client token), so they
            // refuse these earlier (401/403); every other route must not know the resource (404),
            // or refuse a non-admin (403).
            const expected = op.path.includes('/public/') ? [401, 403, 404] : isAdminOnly(document, op) ? [403] : [404];
            if (!expected.includes(answer.status))
              wrong.push(
                `${op.method} ${path} as the other user (${kind}, ${form}) → ${answer.status} ${answer.text.slice(0, 120)}`,
              );
          }
        }
      }
      assert.deepEqual(wrong, [], `${wrong.length} of ${calls} calls were not refused`);
      assert.deepEqual(await ownersView(), before, "the owner's data changed");
    });
  });
}
