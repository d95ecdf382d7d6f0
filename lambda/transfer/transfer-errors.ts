import { IncompleteMediaError, isNotFound } from '../shared/storage/recording-store';
import { TwilioApiError } from '../shared/twilio/rest-api';

/** How a transfer fails: retryable (backoff, then the dead-letter queue) or permanent (at once). */

/** A failure worth another attempt later (Twilio not ready, throttling, transient network or S3 errors). */
export class RetryableTransferError extends Error {
  override name = 'RetryableTransferError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** A failure that another attempt will not fix (credentials refused, malformed job, size mismatch persists…). */
export class PermanentTransferError extends Error {
  override name = 'PermanentTransferError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** AWS error names that mean "try again later" whatever their HTTP status. */
const RETRYABLE_AWS_ERRORS = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TransactionConflictException',
  'LimitExceededException',
  'SlowDown',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'InternalServerError',
  'ServiceUnavailable',
]);

/** Maps any error from Twilio, the network, S3 or DynamoDB onto retryable or permanent. */
export function classify(error: unknown): RetryableTransferError | PermanentTransferError {
  if (error instanceof RetryableTransferError || error instanceof PermanentTransferError) return error;
  if (error instanceof IncompleteMediaError) return new RetryableTransferError(error.message, error.code);
  if (error instanceof TwilioApiError) {
    return error.retryable
      ? new RetryableTransferError(error.message, error.code)
      : new PermanentTransferError(error.message, error.code);
  }
  const e = error as {
    name?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
  };
  const status = e?.$metadata?.httpStatusCode;
  if (status !== undefined) {
    const name = e.name ?? 'error';
    // Throttling and server-side trouble pass (DynamoDB throttles with 400s); access,
    // validation and missing-resource errors need a person, then a redrive.
    if (status >= 500 || status === 429 || status === 408 || RETRYABLE_AWS_ERRORS.has(name) || e.$retryable) {
      return new RetryableTransferError(`AWS answered ${status} (${name})`, `aws-${name}`);
    }
    if (name === 'NoSuchBucket' || (status === 404 && isNotFound(error))) {
      return new PermanentTransferError('The recordings bucket does not exist', 's3-404');
    }
    return new PermanentTransferError(`AWS refused the request (${status} ${name})`, `aws-${name}`);
  }
  // Resets, premature closes, aborted streams, DNS hiccups: transient by nature.
  return new RetryableTransferError(`Transfer interrupted: ${e?.code ?? e?.name ?? 'error'}`, 'network');
}
