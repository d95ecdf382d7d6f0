import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { CallbackValidationError } from '../shared/job/recording-job';
import type { TransferQueue } from '../shared/job/transfer-queue';
import {
  badRequest,
  emptyResponse,
  errorResponse,
  forbidden,
  type HttpResponse,
  header,
  payloadTooLarge,
  rawBody,
  requestUrlCandidates,
  unsupportedMediaType,
} from '../shared/runtime/http';
import type { Observability } from '../shared/runtime/observability';
import type { TwilioAccounts } from '../shared/twilio/accounts';
import { signedUrlCandidates } from '../shared/twilio/connection-overrides';
import { parseForm, type TwilioTokens, validateTwilioSignature } from '../shared/twilio/signature';
import { parseRecordingCallback } from './recording-callback';

export const MAX_CALLBACK_BYTES = 64 * 1024;

export interface WebhookDeps {
  /** The parent and the listed subaccounts: a callback is checked with its own account's token. */
  readonly accounts: TwilioAccounts;
  readonly publicBaseUrl?: string | undefined;
  /** The connection-override fragment Twilio is given (without `#`), if any. */
  readonly connectionOverrides?: string | undefined;
  readonly queue: TransferQueue;
  readonly obs: Observability;
  readonly now?: () => Date;
}

/**
 * Accepts one Twilio recording status callback: checks it cheaply (type, size) before any
 * hashing, then the signature, then the content, and queues one transfer job. Twilio gets its
 * answer in milliseconds; the transfer happens behind the queue. No path skips validation.
 */
export async function acceptRecordingCallback(event: APIGatewayProxyEventV2, deps: WebhookDeps): Promise<HttpResponse> {
  const { obs } = deps;
  try {
    const contentType = (header(event, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase();
    if (contentType !== 'application/x-www-form-urlencoded') {
      throw unsupportedMediaType('Expected application/x-www-form-urlencoded');
    }
    // A compressed body is not the form Twilio signed: refuse it as a type we do not take,
    // before any hashing, rather than call it a bad signature.
    const encodings = (header(event, 'content-encoding') ?? '')
      .split(',')
      .map((encoding) => encoding.trim().toLowerCase())
      .filter((encoding) => encoding !== '' && encoding !== 'identity');
    if (encodings.length > 0) {
      throw unsupportedMediaType(`Content-Encoding ${encodings[0]?.slice(0, 32)} is not supported`);
    }
    // Cheap bound on the encoded size first, so an oversized body is never decoded.
    if (
      (event.body?.length ?? 0) >
      (event.isBase64Encoded ? Math.ceil((MAX_CALLBACK_BYTES * 4) / 3) + 4 : MAX_CALLBACK_BYTES * 4)
    ) {
      throw payloadTooLarge('Body exceeds 64 KiB');
    }
    const body = rawBody(event);
    if (body.length > MAX_CALLBACK_BYTES) throw payloadTooLarge('Body exceeds 64 KiB');

    const params = parseForm(body.toString('utf8'));
    const signature = header(event, 'x-twilio-signature');
    if (!signature) throw forbidden('Missing X-Twilio-Signature');
    // With and without the stage's connection-override fragment: Twilio does not say which it signs.
    const urls = signedUrlCandidates(requestUrlCandidates(event, deps.publicBaseUrl), deps.connectionOverrides);
    // Each account signs with its own token. A callback naming no listed account is checked
    // against the parent's, so that it is told apart as "not ours" only once proven Twilio's.
    const accountSids = [...new Set(([] as string[]).concat(params.AccountSid ?? []).map((sid) => sid.trim()))];
    const claimed = accountSids.length === 1 && deps.accounts.accepts(accountSids[0] as string);
    const tokens = deps.accounts.tokens(claimed ? (accountSids[0] as string) : deps.accounts.parentSid);
    const signedBy = (current: TwilioTokens) =>
      urls.some((url) => validateTwilioSignature(current, signature, url, params));
    let valid = signedBy(await tokens());
    if (!valid) {
      // The token may have been rotated since the cache was filled: look once more, rate-limited.
      valid = signedBy(await tokens({ refresh: true }));
    }
    if (!valid) {
      obs.logger.warn('Rejected a callback with an invalid signature', { path: event.rawPath });
      throw forbidden('Invalid X-Twilio-Signature');
    }
    // Every AccountSid sent must be one account of ours: a repeated parameter must not smuggle in another.
    if (accountSids.some((sid) => sid !== '') && !claimed) {
      throw forbidden('AccountSid does not belong to this deployment');
    }

    let job: ReturnType<typeof parseRecordingCallback>;
    try {
      job = parseRecordingCallback(params, (deps.now ?? (() => new Date()))(), randomUUID());
    } catch (error) {
      if (error instanceof CallbackValidationError) throw badRequest(error.message);
      throw error;
    }
    // A logger of its own per callback: the local gateway runs requests concurrently.
    const log = obs.withKeys({
      recordingSid: job.recordingSid,
      callSid: job.callSid,
      conferenceSid: job.conferenceSid,
    }).logger;

    if (job.status === 'in-progress') {
      log.info('Ignored an in-progress callback');
      obs.metric('CallbackIgnored');
      return emptyResponse(204);
    }
    try {
      await deps.queue.enqueue(job);
    } catch (error) {
      // Twilio does not retry a recording callback: keep the whole job in the log so an operator can replay it.
      log.error('Could not queue the recording; replay this job', { job, error: (error as Error).message });
      throw error;
    }
    log.info('Queued the recording for transfer', {
      status: job.status,
      durationSeconds: job.durationSeconds,
      idempotencyToken: header(event, 'i-twilio-idempotency-token'),
    });
    obs.metric('CallbackAccepted');
    return emptyResponse(204);
  } catch (error) {
    const response = errorResponse(error);
    if (response.statusCode >= 500) {
      obs.logger.error('Could not accept the callback', {
        error: error instanceof Error ? error.message : String(error),
      });
      obs.metric('CallbackFailed');
    } else {
      obs.metric('CallbackRejected');
      obs.logger.info('Rejected a callback', { statusCode: response.statusCode, reason: response.body });
    }
    return response;
  }
}
