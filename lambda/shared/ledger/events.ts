import { appendFile } from 'node:fs/promises';
import type { EventBridgeClient, EventBridgeClientConfig } from '@aws-sdk/client-eventbridge';
import { describeError } from '../runtime/errors';
import type { Observability } from '../runtime/observability';
import type { EncryptionDetails } from '../twilio/encryption-details';
import type { JobOrigin } from './ledger';

/**
 * The vault's events: published after the state they announce is durable in the ledger, at least
 * once (consumers deduplicate on recordingSid + detail-type). Never a URL or a token.
 */
export const EVENT_SOURCE = 'recording-vault';

export interface RecordingStoredDetail {
  readonly recordingSid: string;
  /** Absent for a recording without a CallSid (a conference recording): it has no call item. */
  readonly callId?: string | undefined;
  readonly callSid?: string | undefined;
  /** Set for a conference recording. */
  readonly conferenceSid?: string | undefined;
  /** The Twilio account (the parent or a subaccount) the recording belongs to. */
  readonly accountSid?: string | undefined;
  readonly bucket: string;
  readonly key: string;
  readonly contentType: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly durationSeconds?: number | undefined;
  readonly channels?: number | undefined;
  /** Present when the stored object is ciphertext (Voice Recording Encryption). */
  readonly encryption?: EncryptionDetails | undefined;
  readonly startedAt: string;
  readonly storedAt: string;
  readonly origin: JobOrigin;
}

export interface RecordingFailedDetail {
  readonly recordingSid: string;
  /** Absent for a recording without a CallSid (a conference recording): it has no call item. */
  readonly callId?: string | undefined;
  readonly callSid?: string | undefined;
  /** Set for a conference recording. */
  readonly conferenceSid?: string | undefined;
  /** The Twilio account (the parent or a subaccount) the recording belongs to. */
  readonly accountSid?: string | undefined;
  readonly status: 'failed' | 'absent';
  readonly errorCode?: string | undefined;
  readonly error: string;
}

export interface RecordingErasedDetail {
  readonly recordingSid: string;
  /** Absent for a recording without a CallSid (a conference recording): it has no call item. */
  readonly callId?: string | undefined;
  readonly callSid?: string | undefined;
  /** Set for a conference recording. */
  readonly conferenceSid?: string | undefined;
  /** The Twilio account (the parent or a subaccount) the recording belongs to. */
  readonly accountSid?: string | undefined;
  readonly erasedAt: string;
  readonly erasedBy: string;
}

/** `Recording Held`, `Recording Released`, `Recording Expired`: who did it, when and why. */
export interface RecordingComplianceDetail {
  readonly recordingSid: string;
  readonly callId?: string | undefined;
  readonly callSid?: string | undefined;
  readonly accountSid?: string | undefined;
  readonly conferenceSid?: string | undefined;
  readonly at: string;
  readonly by: string;
  readonly reason: string;
}

export type VaultEvent =
  | { readonly detailType: 'Recording Stored'; readonly detail: RecordingStoredDetail }
  | { readonly detailType: 'Recording Failed'; readonly detail: RecordingFailedDetail }
  | { readonly detailType: 'Recording Erased'; readonly detail: RecordingErasedDetail }
  | {
      readonly detailType: 'Recording Held' | 'Recording Released' | 'Recording Expired';
      readonly detail: RecordingComplianceDetail;
    };

export interface EventPublisher {
  /** Publishes one event; throws when it could not be delivered (the caller logs and counts it). */
  publish(event: VaultEvent): Promise<void>;
}

type EventBridgeModule = typeof import('@aws-sdk/client-eventbridge');

/**
 * EventBridge: the client is loaded and created on the first event, so a cold start that
 * publishes nothing does not pay for it. Entries EventBridge reports failed are sent again.
 */
export function eventBridgePublisher(busName: string, config: EventBridgeClientConfig = {}): EventPublisher {
  let ready: Promise<{ client: EventBridgeClient; module: EventBridgeModule }> | undefined;
  const load = () => {
    ready ??= import('@aws-sdk/client-eventbridge').then((module) => ({
      module,
      client: new module.EventBridgeClient(config),
    }));
    return ready;
  };
  return {
    async publish(event) {
      const { client, module } = await load();
      const entry = {
        EventBusName: busName,
        Source: EVENT_SOURCE,
        DetailType: event.detailType,
        Detail: JSON.stringify(event.detail),
      };
      for (let attempt = 1; ; attempt++) {
        const result = await client.send(new module.PutEventsCommand({ Entries: [entry] }));
        const failed = result.Entries?.[0]?.ErrorCode;
        if (!result.FailedEntryCount && !failed) return;
        if (attempt >= 3) throw new Error(`EventBridge refused the event: ${failed ?? 'unknown error'}`);
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    },
  };
}

/** The local stack's bus: one JSON line per event appended to a file (`events.ndjson`). */
export function fileEventPublisher(path: string, now: () => Date = () => new Date()): EventPublisher {
  return {
    async publish(event) {
      const line = JSON.stringify({
        source: EVENT_SOURCE,
        'detail-type': event.detailType,
        detail: event.detail,
        time: now().toISOString(),
      });
      await appendFile(path, `${line}\n`, 'utf8');
    },
  };
}

/** Publishes an event; a failure is logged and counted, never fails the job (the ledger holds the state). */
export async function announce(
  event: VaultEvent,
  deps: { readonly events: EventPublisher; readonly obs: Observability },
): Promise<boolean> {
  try {
    await deps.events.publish(event);
    deps.obs.metric('EventPublished');
    return true;
  } catch (error) {
    deps.obs.logger.error('Could not publish an event', {
      detailType: event.detailType,
      error: describeError(error),
    });
    deps.obs.metric('EventPublishFailed');
    return false;
  }
}
