import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { invalid } from '../domain/errors.ts';
import type { IdempotencyRequest } from '../domain/idempotency/idempotency-keys.ts';

const keyPattern = /^[\x21-\x7e]{1,255}$/;

/**
 * The request's `Idempotency-Key` header, with a fingerprint of what it asks (method, route,
 * parameters, query and body), or undefined when the header is absent. The same key with another
 * fingerprint is refused (422), so a key reused by mistake never returns someone else's answer.
 */
export function idempotencyOf(request: FastifyRequest): IdempotencyRequest | undefined {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return undefined;
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined || !keyPattern.test(key))
    throw invalid('Idempotency-Key', 'must be 1 to 255 visible ASCII characters');
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([request.method, request.routeOptions.url, request.params, request.query, request.body]))
    .digest('hex');
  return { key, fingerprint };
}
