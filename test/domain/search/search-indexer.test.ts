import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SearchIndexer } from '../../../src/domain/search/search-indexer.ts';
import { SearchStore } from '../../../src/domain/search/search.store.ts';
import type { SqlStore } from '../../../src/stores/sql/database.ts';
import { dialects } from '../../helpers/server.ts';
import { insertUser, openTestStore } from '../../helpers/store-fixtures.ts';

for (const dialect of dialects) {
  describe(`search indexer: the entries of one turn written together (${dialect})`, () => {
    let sql: SqlStore;
    let drop: () => Promise<void>;
    let indexer: SearchIndexer;
    let userId: number;
    const warnings: string[] = [];
    before(async () => {
      ({ sql, drop } = await openTestStore(dialect));
      userId = await insertUser(sql.db);
      indexer = new SearchIndexer({
        store: new SearchStore(sql.db, sql.dialect),
        clock: { now: () => Date.now() },
        warn: (message) => {
          warnings.push(message);
        },
        batchSize: 8,
        pollMs: 60_000,
        leaseMs: 60_000,
        mode: 'embedded',
      });
    });
    after(async () => {
      await sql.close();
      await drop();
    });

    const entry = (sourceId: number, owner = userId) => ({
      kind: 'message' as const,
      sourceId,
      userId: owner,
      conversationId: null,
      content: `text number ${sourceId}`,
      createdAt: new Date().toISOString(),
    });
    const indexed = async (sourceIds: number[]) =>
      (
        await sql.db
          .selectFrom('search_index')
          .select('source_id')
          .where('source_id', 'in', sourceIds)
          .orderBy('source_id')
          .execute()
      ).map((row) => row.source_id);

    test('every call of one turn is indexed once its promise resolves', async () => {
      await Promise.all([1, 2, 3, 4, 5].map((id) => indexer.enqueue([entry(id)])));
      assert.deepEqual(await indexed([1, 2, 3, 4, 5]), [1, 2, 3, 4, 5]);
    });

    test('an entry that cannot be written fails only its own call, and is reported', async () => {
      warnings.length = 0;
      await Promise.all([
        indexer.enqueue([entry(11)]),
        indexer.enqueue([entry(12, 987_654)]), // no such user
        indexer.enqueue([entry(13), entry(14)]),
      ]);
      assert.deepEqual(await indexed([11, 12, 13, 14]), [11, 13, 14]);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0]!, /could not index 1 text/);
    });
  });
}
