import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromProvider } from '../../src/domain/completions/provider-failures.ts';
import { AppError } from '../../src/domain/errors.ts';
import { ProviderError } from '../../src/providers/provider-error.ts';

const mapped = (error: ProviderError) => {
  const result = fromProvider(error);
  assert.ok(result instanceof AppError);
  return result;
};

test("a provider's rate limit and refusal get codes of their own, not this server's quota or validation codes", () => {
  const limited = mapped(new ProviderError('openai', 'rate_limited', 'slow down', { status: 429, retryAfter: '7' }));
  assert.equal(limited.code, 'provider_rate_limited');
  assert.equal(limited.status, 429);
  assert.equal(limited.headers['retry-after'], '7');

  const rejected = mapped(new ProviderError('local', 'rejected', 'tools: not supported', { field: 'tools' }));
  assert.equal(rejected.code, 'provider_rejected');
  assert.equal(rejected.status, 400);
  assert.equal(rejected.field, 'tools');
  assert.equal(rejected.message, 'tools: not supported');
});

test('failures the caller cannot fix keep the upstream codes; a missing model is model_unavailable', () => {
  assert.equal(mapped(new ProviderError('openai', 'key_refused', 'key', { status: 401 })).code, 'upstream_error');
  assert.equal(mapped(new ProviderError('openai', 'unreachable', 'down')).code, 'upstream_error');
  assert.equal(mapped(new ProviderError('openai', 'failed', '500', { status: 500 })).code, 'upstream_error');
  assert.equal(mapped(new ProviderError('openai', 'timeout', 'slow')).code, 'upstream_timeout');
  assert.equal(mapped(new ProviderError('local', 'unavailable', 'absent')).code, 'model_unavailable');
});

test('isRetryable follows the failure and the upstream status; other errors pass through unchanged', () => {
  assert.equal(new ProviderError('p', 'rate_limited', '').isRetryable, true);
  assert.equal(new ProviderError('p', 'failed', '', { status: 503 }).isRetryable, true);
  assert.equal(new ProviderError('p', 'failed', '', { status: 500 }).isRetryable, false);
  assert.equal(new ProviderError('p', 'rejected', '', { status: 400 }).isRetryable, false);
  const own = new AppError('rate_limited', 'your quota');
  assert.equal(fromProvider(own), own);
});
