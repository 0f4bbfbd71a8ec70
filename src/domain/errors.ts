/**
 * The one error catalogue. Services throw AppError with a stable code; the HTTP error handler
 * renders it in each surface's shape. docs/errors.md lists every code (a test keeps it in sync).
 */
export const errorCodes = {
  validation_failed: {
    status: 400,
    description: 'The request is malformed or a field is invalid; the message names the field.',
  },
  unauthorized: { status: 401, description: 'Credentials are missing, wrong, expired or revoked.' },
  forbidden: { status: 403, description: 'The caller is authenticated but may not do this.' },
  not_found: { status: 404, description: 'No such resource, or it belongs to someone else.' },
  conflict: { status: 409, description: 'The resource exists already, or another operation holds it.' },
  request_timeout: { status: 408, description: 'The request was not received completely in time.' },
  payload_too_large: { status: 413, description: 'The request body is larger than the configured limit.' },
  unsupported_media_type: {
    status: 415,
    description:
      'The request body is in a format this route does not read (send application/json; an upload: a PDF as multipart/form-data).',
  },
  idempotency_mismatch: {
    status: 422,
    description:
      'The Idempotency-Key was already used by this user with another request (another route or body) within a day.',
  },
  unreadable_document: {
    status: 422,
    description:
      'The uploaded file is of an accepted type but cannot be used: encrypted, damaged, without text, or too slow to read.',
  },
  stream_not_resumable: {
    status: 410,
    description:
      'A Last-Event-ID names an answer that cannot be resumed: unknown, ended longer ago than CAUSERIE_STREAM_RESUME_SECONDS, or not yours.',
  },
  headers_too_large: { status: 431, description: 'The request headers are larger than the server accepts.' },
  provider_rejected: {
    status: 400,
    description:
      "The model provider refused the request (a setting it does not support, a prompt too long, an unknown model); the message gives the provider's reason.",
  },
  rate_limited: {
    status: 429,
    description: 'A rate limit, quota or budget of this server is exhausted; Retry-After says when to retry.',
  },
  provider_rate_limited: {
    status: 429,
    description:
      "The model provider is rate limiting this server's requests (not your quota here); Retry-After is the provider's, when it sent one.",
  },
  internal_error: {
    status: 500,
    description: 'Something failed inside Causerie; the request id helps find it in the logs.',
  },
  upstream_error: {
    status: 502,
    description: "The model provider failed, could not be reached, or refused this server's key.",
  },
  shutting_down: {
    status: 503,
    description: 'This server is shutting down; retry (on another node, behind a load balancer).',
  },
  answer_interrupted: {
    status: 503,
    description:
      'Sent as the last event of a resumed stream whose generating server died: the partial answer is stored; send the message again.',
  },
  model_unavailable: {
    status: 503,
    description: 'The model exists but cannot serve now (not downloaded, provider not configured).',
  },
  web_search_unavailable: {
    status: 503,
    description: 'Web search was asked for but no search engine is configured; the message names the settings.',
  },
  upstream_busy: {
    status: 503,
    description:
      'Every connection the configuration allows to the model provider is busy and none freed up in time; retry after Retry-After.',
  },
  upstream_timeout: { status: 504, description: 'The model provider did not answer in time.' },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers (Retry-After, WWW-Authenticate, rate-limit headers). */
  readonly headers: Record<string, string>;
  /** The field at fault, for validation errors. */
  readonly field: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { headers?: Record<string, string>; field?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.status = errorCodes[code].status;
    this.headers = options.headers ?? {};
    this.field = options.field;
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
export const invalid = (field: string, message: string) =>
  new AppError('validation_failed', `${field}: ${message}`, { field });
