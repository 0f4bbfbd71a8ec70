import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { logOptions } from '../../src/http/app.ts';
import { MemoryLimitCounters } from '../../src/stores/kv/memory-limit-counters.ts';
import {
  anonymousId,
  generateClientToken,
  generatePublicKey,
  normalizeOrigin,
  visitorOf,
} from '../../src/domain/public-agents/public-agents.types.ts';
import { VisitorCounters } from '../../src/domain/public-agents/visitor-limits.ts';
import { ManualClock } from '../helpers/server.ts';
import type { Json } from '../helpers/wire.ts';

describe('public agents: keys, tokens, visitors, origins', () => {
  test('public keys and client tokens are random and recognisable', () => {
    const key = generatePublicKey();
    assert.match(key, /^PUB_[0-9A-Z]{4}(_[0-9A-Z]{4}){7}$/);
    assert.notEqual(generatePublicKey(), key);
    assert.match(generateClientToken(), /^pct_[0-9A-Z]{51}$/);
  });

  test('the visitor is a keyed hash of address and user agent; its anonymous id reveals neither', () => {
    const client = { origin: 'https://a.example', address: '203.0.113.7', userAgent: 'Firefox' };
    const visitor = visitorOf('secret-1', client);
    assert.match(visitor, /^[0-9a-f]{64}$/);
    assert.equal(
      visitorOf('secret-1', { ...client, origin: 'https://b.example' }),
      visitor,
      'the origin is bound separately',
    );
    assert.notEqual(visitorOf('secret-2', client), visitor, 'another server secret, another id');
    assert.notEqual(visitorOf('secret-1', { ...client, userAgent: 'curl' }), visitor);
    assert.notEqual(visitorOf('secret-1', { ...client, address: '203.0.113.8' }), visitor);
    assert.match(anonymousId(visitor), /^visitor_[0-9a-f]{16}$/);
  });

  test('an allowed origin is scheme, host and port, nothing more', () => {
    assert.equal(normalizeOrigin('https://shop.example'), 'https://shop.example');
    assert.equal(normalizeOrigin('https://shop.example/'), 'https://shop.example');
    assert.equal(normalizeOrigin('http://127.0.0.1:8080'), 'http://127.0.0.1:8080');
    assert.equal(normalizeOrigin('HTTPS://Shop.Example'), undefined, 'not as a browser sends it');
    for (const bad of [
      'https://shop.example/page',
      'shop.example',
      'ftp://shop.example',
      '*',
      'https://shop.example?x=1',
      'javascript:alert(1)',
    ]) {
      assert.equal(normalizeOrigin(bad), undefined, bad);
    }
  });

  test('visitor counters: the message slot and token are all or none, refunds give them back, and the burst rule counts per window', async () => {
    const clock = new ManualClock();
    const visitors = new VisitorCounters({ counters: new MemoryLimitCounters(), clock, prefix: 't:' });
    const limits = { requests_per_minute: 10, tokens_per_day: 100, messages_per_conversation: 2 };
    const first = await visitors.message(1, 'v', 7, limits, 60_000);
    await first.settle(100);
    // 100 of 100 tokens used: the next message is refused, for the tokens.
    await assert.rejects(
      visitors.message(1, 'v', 7, limits, 60_000),
      (error: Json) => error.code === 'rate_limited' && /tokens/.test(error.message),
    );
    await first.settle(0); // settling twice changes nothing
    const other = await visitors.message(1, 'w', 7, limits, 60_000);
    await other.refund();
    const again = await visitors.message(1, 'w', 7, limits, 60_000);
    await again.settle(1);
    await assert.rejects(visitors.message(1, 'w', 7, limits, 60_000), /reached its 2 messages/);
    for (let i = 0; i < 3; i++) assert.equal(await visitors.withinBurst(5, 3), true);
    assert.equal(await visitors.withinBurst(5, 3), false);
    clock.advance(10_000);
    assert.equal(await visitors.withinBurst(5, 3), true);
  });

  test('logs mask the client token in the messages path', () => {
    const serializers = (logOptions('info') as { serializers: { req(request: object): { url: string } } }).serializers;
    const logged = serializers.req({
      method: 'GET',
      url: '/v1/chat/conversation/public/messages/pct_SECRET?x=1',
      ip: '127.0.0.1',
    });
    assert.equal(logged.url, '/v1/chat/conversation/public/messages/***?x=1');
  });
});
