import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { signUp, type SignedUpUser } from '../helpers/platform.ts';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';

/** GET /api/v1/usage?group_by=user: the console's "everyone, by user" view, on both databases. */
for (const dialect of dialects) {
  describe(`usage grouped by user (${dialect})`, () => {
    let server: TestServer;
    let carla: SignedUpUser;
    let dmitri: SignedUpUser;

    before(async () => {
      server = await startTestServer({ dialect, env: { CAUSERIE_MOCK_PROVIDER: 'true' } });
      carla = await signUp(server, 'carla');
      dmitri = await signUp(server, 'dmitri');
      for (const [user, calls] of [
        [carla, 2],
        [dmitri, 1],
      ] as const) {
        for (let i = 0; i < calls; i++) {
          const answer = await server.api('/api/v1/models/completions', {
            method: 'POST',
            auth: user.basic,
            body: { model_id: 'mock/echo', prompt: 'two words' },
          });
          assert.equal(answer.status, 200);
        }
      }
    });
    after(async () => server?.stop());

    test("an admin sees everyone's usage split by user, with names", async () => {
      const report = await server.api('/api/v1/usage?all=true&group_by=user');
      assert.equal(report.status, 200);
      assert.deepEqual(report.body.group_by, ['user']);
      assert.deepEqual(
        report.body.rows.map((row: { user_id: number; username: string; requests: number }) => [
          row.user_id,
          row.username,
          row.requests,
        ]),
        [
          [carla.id, 'carla', 2],
          [dmitri.id, 'dmitri', 1],
        ],
      );
      assert.equal(report.body.total.requests, 3);
      const byDayAndUser = await server.api('/api/v1/usage?all=true&group_by=day,user');
      assert.deepEqual(
        byDayAndUser.body.rows.map((row: { username: string }) => row.username),
        ['carla', 'dmitri'],
      );
    });

    test('a user grouping by user sees only their own line; everyone is for admins', async () => {
      const own = await server.api('/api/v1/usage?group_by=user', { auth: dmitri.basic });
      assert.equal(own.status, 200);
      assert.deepEqual(
        own.body.rows.map((row: { username: string; requests: number }) => [row.username, row.requests]),
        [['dmitri', 1]],
      );
      const everyone = await server.api('/api/v1/usage?all=true&group_by=user', { auth: dmitri.basic });
      assert.equal(everyone.status, 403);
      const other = await server.api('/api/v1/usage?user=carla&group_by=user', { auth: dmitri.basic });
      assert.equal(other.status, 404);
      const wrong = await server.api('/api/v1/usage?group_by=users', { auth: dmitri.basic });
      assert.equal(wrong.status, 400);
      assert.match(wrong.body.detail, /group_by: must be a comma-separated list of day, model, key, user/);
    });
  });
}
