import type { CallsRepository, RecordingEntry } from '../shared/calls/calls';
import type { RecordingJob } from '../shared/job/recording-job';
import { announce, type EventPublisher } from '../shared/ledger/events';
import type { LedgerItem, RecordingFacts, RecordingLedger } from '../shared/ledger/ledger';
import { describeError } from '../shared/runtime/errors';
import type { Observability } from '../shared/runtime/observability';
import type { TwilioApi } from '../shared/twilio/rest-api';
import { formatPhoneNumber } from './phone-numbers';

/**
 * What follows the ledger: the call item (the app's projection of each recording), the events,
 * and the details of a call the vault had to create. Written after the ledger holds the state,
 * idempotent, so a redelivered job heals whatever a crash left behind.
 */
export interface ProjectionDeps {
  readonly ledger: RecordingLedger;
  readonly calls: CallsRepository;
  readonly events: EventPublisher;
  readonly twilio: TwilioApi;
  readonly bucket: string;
  readonly obs: Observability;
  readonly now?: () => Date;
}

/** Twilio said `absent` or `failed`: entered in the ledger (never over a claim or a copy), then projected. */
export async function recordTwilioFailure(
  job: RecordingJob,
  facts: RecordingFacts,
  deps: ProjectionDeps,
): Promise<{ readonly callId: string | undefined; readonly status: 'failed' | 'absent' }> {
  const now = (deps.now ?? (() => new Date()))();
  const status = job.status as 'absent' | 'failed';
  const error = status === 'absent' ? describeAbsent(job.errorCode) : 'Twilio reported the recording failed';
  const { recorded, item } = await deps.ledger.recordTwilioFailure(
    facts,
    { status, errorCode: job.errorCode, error },
    now,
  );
  const callId = item?.callId ?? facts.callId;
  if (!recorded) {
    deps.obs.logger.info('Twilio reported no usable recording; the ledger already knows better or the same', {
      status,
      ledgerStatus: item?.status,
    });
    return { callId, status };
  }
  // A recording without a CallSid (a conference recording) has no call item to write.
  if (callId !== undefined) {
    await deps.calls.markFailed(
      callId,
      job.recordingSid,
      {
        status,
        errorCode: job.errorCode,
        error,
        durationSeconds: job.durationSeconds,
        channels: job.channels,
        source: job.source,
        startedAt: item?.startedAt ?? job.startedAt,
      },
      now,
    );
  }
  deps.obs.logger.warn('Twilio reported no usable recording', { status, errorCode: job.errorCode });
  deps.obs.metric(status === 'absent' ? 'RecordingAbsent' : 'RecordingFailedAtTwilio');
  await announce(
    {
      detailType: 'Recording Failed',
      detail: {
        recordingSid: job.recordingSid,
        callId,
        callSid: item?.callSid ?? job.callSid,
        conferenceSid: item?.conferenceSid ?? job.conferenceSid,
        accountSid: item?.accountSid ?? job.accountSid,
        status,
        errorCode: job.errorCode,
        error,
      },
    },
    deps,
  );
  return { callId, status };
}

/** The call item and the `Recording Stored` event, from a stored ledger item. Idempotent. */
export async function projectStored(item: LedgerItem, deps: ProjectionDeps): Promise<void> {
  const now = (deps.now ?? (() => new Date()))();
  const callId = item.callId ?? item.callSid;
  const entry: RecordingEntry = {
    status: 'stored',
    bucket: item.bucket,
    key: item.key,
    contentType: item.contentType,
    sizeBytes: item.sizeBytes,
    sha256: item.sha256,
    durationSeconds: item.durationSeconds,
    channels: item.channels,
    source: item.source,
    encryption: item.encryption,
    startedAt: item.startedAt,
    storedAt: item.storedAt,
  };
  // A recording without a CallSid (a conference recording) is found by its RecordingSid alone.
  if (callId !== undefined) await deps.calls.markStored(callId, item.recordingSid, entry, now);
  if (item.storedEventAt) return;
  // An erasure may have begun since the ledger said stored: then the event never goes out.
  if (!(await deps.ledger.beginStoredEvent(item.recordingSid, now))) {
    deps.obs.logger.info('Recording Stored not sent: already sent, being sent, or the erasure has begun');
    return;
  }
  const sent = await announce(
    {
      detailType: 'Recording Stored',
      detail: {
        recordingSid: item.recordingSid,
        callId,
        callSid: item.callSid,
        conferenceSid: item.conferenceSid,
        accountSid: item.accountSid,
        bucket: item.bucket ?? deps.bucket,
        key: item.key ?? '',
        contentType: item.contentType ?? '',
        sizeBytes: item.sizeBytes ?? 0,
        sha256: item.sha256 ?? '',
        durationSeconds: item.durationSeconds,
        channels: item.channels,
        ...(item.encryption ? { encryption: item.encryption } : {}),
        startedAt: item.startedAt,
        storedAt: item.storedAt ?? now.toISOString(),
        origin: item.origin ?? 'callback',
      },
    },
    deps,
  );
  if (sent) await deps.ledger.markStoredEventSent(item.recordingSid, now);
  else await deps.ledger.endStoredEvent(item.recordingSid);
}

/** From, to, direction and start of a call the vault created, from Twilio's call resource; best effort. */
export async function addCallDetails(callId: string, callSid: string, deps: ProjectionDeps): Promise<void> {
  const now = deps.now ?? (() => new Date());
  try {
    const call = await deps.twilio.getCallDetails(callSid);
    const started = call.startTime ? Date.parse(call.startTime) : Number.NaN;
    await deps.calls.addCallDetails(
      callId,
      {
        from: formatPhoneNumber(call.from),
        to: formatPhoneNumber(call.to),
        direction: call.direction,
        callStartedAt: Number.isNaN(started) ? undefined : new Date(started).toISOString(),
      },
      now(),
    );
  } catch (error) {
    // The recording matters more than the call's details: it is still copied.
    deps.obs.logger.warn("Could not read the call's details from Twilio", { error: describeError(error) });
  }
}

function describeAbsent(errorCode: string | undefined): string {
  if (errorCode === '16101') return 'Twilio recorded nothing: the recording was too short';
  if (errorCode === '16102') return 'Twilio recorded nothing: the recording was silent';
  return 'Twilio reported the recording absent';
}
