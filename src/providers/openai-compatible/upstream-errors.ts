import { ProviderError, type ProviderFailure } from '../provider-error.ts';
import { refusalOf } from '../web/connect-guard.ts';

/** What an error message may say about the provider: its id, where it lives, which variable holds its key. */
export interface UpstreamIdentity {
  provider: string;
  /** Origin only (scheme, host, port): a base URL may carry credentials in its path or query. */
  origin: string;
  /** The variable to check when the key is refused, e.g. "MISTRAL_API_KEY". */
  keyVariable?: string;
  /** Scrubbed from every message, should an upstream echo it. */
  secret?: string;
}

const maxMessageLength = 300;

/** The human message inside an upstream error body, in any of the shapes providers use. */
function upstreamMessage(bodyText: string): string {
  let message: unknown = bodyText;
  try {
    const body = JSON.parse(bodyText) as {
      error?: { message?: unknown } | string;
      message?: unknown;
      detail?: unknown;
    } | null;
    const error = body?.error;
    message =
      (typeof error === 'object' ? error?.message : undefined) ?? body?.message ?? body?.detail ?? error ?? bodyText;
    if (typeof message !== 'string') message = JSON.stringify(message);
  } catch {}
  const text = String(message).replace(/\s+/g, ' ').trim();
  return text.length > maxMessageLength ? `${text.slice(0, maxMessageLength)}\u2026` : text || '(empty body)';
}

/** The text with the provider's key masked, should an upstream echo it. */
export const scrub = (text: string, secret: string | undefined) =>
  secret && secret.length >= 4 ? text.replaceAll(secret, '***') : text;

/**
 * Maps an upstream HTTP error to a ProviderError: a refused key names the variable to check and
 * never quotes the upstream (which may echo the key), a rate limit keeps its Retry-After, a
 * rejected request keeps the upstream's reason.
 */
export function upstreamStatusError(
  who: UpstreamIdentity,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
): ProviderError {
  const name = `Provider "${who.provider}"`;
  const fail = (failure: ProviderFailure, message: string, retryAfter?: string) =>
    new ProviderError(who.provider, failure, message, { status, retryAfter });
  if (status === 401 || status === 403) {
    const check = who.keyVariable ? `; check ${who.keyVariable}` : '';
    return fail('key_refused', `The provider rejected the key: ${name} answered ${status}${check}`);
  }
  const reason = scrub(upstreamMessage(bodyText), who.secret);
  if (status === 429) {
    const retryAfter = headers['retry-after'];
    return fail(
      'rate_limited',
      `${name} is rate limiting requests: ${reason}`,
      Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
    );
  }
  if (status === 400 || status === 422) return fail('rejected', `${name} rejected the request: ${reason}`);
  if (status === 413) return fail('rejected', `${name} found the request too large: ${reason}`);
  if (status === 408 || status === 504) return fail('timeout', `${name} timed out (upstream ${status}): ${reason}`);
  if (status === 404) return fail('rejected', `${name} answered 404 (unknown model or path?): ${reason}`);
  return fail('failed', `${name} failed (upstream ${status}): ${reason}`);
}

/** Statuses worth another try before the first byte: the upstream (or its proxy) was momentarily unable. */
export const retryableStatuses = new Set([502, 503, 504]);

const connectCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const lostCodes = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

const codeOf = (error: unknown): string | undefined => {
  const err = error as { code?: string; cause?: { code?: string } };
  return err?.code ?? err?.cause?.code;
};

/** Whether a transport error happened before anything was processed upstream, so a retry is safe. */
export function isRetryableTransportError(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && (connectCodes.has(code) || lostCodes.has(code));
}

/** Maps a transport failure (timeouts, refused or lost connections) to a ProviderError. */
export function transportError(
  who: UpstreamIdentity,
  error: unknown,
  timeouts: { connectMs: number; firstByteMs: number; idleMs: number },
): ProviderError {
  // The provider's address is the operator's business, not every caller's: it stays in the logs (the cause).
  const name = `Provider "${who.provider}"`;
  const fail = (failure: ProviderFailure, message: string) =>
    new ProviderError(who.provider, failure, message, { cause: error });
  // Refused by the SSRF policy: the message names the host, never the address it resolved to.
  const refused = refusalOf(error);
  if (refused) return fail('failed', `${name} was not called: ${refused.message}`);
  const code = codeOf(error);
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return fail('timeout', `${name} did not accept a connection within ${timeouts.connectMs} ms`);
    case 'UND_ERR_HEADERS_TIMEOUT':
      return fail('timeout', `${name} did not start answering within ${timeouts.firstByteMs} ms`);
    case 'UND_ERR_BODY_TIMEOUT':
      return fail('timeout', `${name} went silent for more than ${timeouts.idleMs} ms`);
  }
  if (code && connectCodes.has(code)) return fail('unreachable', `Cannot reach ${name}: ${code}`);
  if (code && lostCodes.has(code)) return fail('unreachable', `The connection to ${name} was lost`);
  return fail('failed', `${name} failed: ${scrub((error as Error)?.message ?? String(error), who.secret)}`);
}
