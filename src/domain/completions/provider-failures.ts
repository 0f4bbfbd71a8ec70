import { ProviderError } from '../../providers/provider-error.ts';
import { AppError, type ErrorCode } from '../errors.ts';

const codes: Record<ProviderError['failure'], ErrorCode> = {
  rejected: 'provider_rejected',
  rate_limited: 'provider_rate_limited',
  key_refused: 'upstream_error',
  timeout: 'upstream_timeout',
  unreachable: 'upstream_error',
  busy: 'upstream_busy',
  unavailable: 'model_unavailable',
  failed: 'upstream_error',
};

/**
 * The error a caller sees for a provider's failure: a code of its own for each kind, distinct from
 * Causerie's own decisions (`rate_limited` is this server's quota, `provider_rate_limited` the
 * provider's; `validation_failed` is this server's validation, `provider_rejected` the provider's).
 * Anything that is not a ProviderError passes through unchanged.
 */
export function fromProvider(error: unknown): unknown {
  if (!(error instanceof ProviderError)) return error;
  return new AppError(codes[error.failure], error.message, {
    cause: error,
    field: error.field,
    headers: error.retryAfter ? { 'retry-after': error.retryAfter } : undefined,
  });
}

/** The same for an error event's payload, which must stay an AppError. */
export const appErrorFromProvider = (error: ProviderError): AppError => fromProvider(error) as AppError;
