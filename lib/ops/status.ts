/**
 * `npm run status`: what the vault knows of one recording, or of every recording of one call —
 * the ledger (the source of truth), the call entry (its projection), the S3 object (HEAD: there?
 * its size and sha256 against the ledger) and the dead-letter queue (jobs for it, with their
 * reason) — and where these disagree.
 *
 * The DLQ is only looked at: each job is received with a short visibility timeout, never deleted,
 * and made visible again at the end (if the command dies, SQS does that after the timeout).
 */

import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  ChangeMessageVisibilityBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { CallItem, RecordingEntry } from '../../lambda/shared/calls/calls';
import type { DaysBySource } from '../../lambda/shared/config/retention-by-source';
import type { RecordingSource } from '../../lambda/shared/job/recording-job';
import type { LedgerItem } from '../../lambda/shared/ledger/ledger';
import { storedSha256 } from '../../lambda/shared/storage/recording-upload';
import { retentionDiffersFromSweep } from './retention-status';
import { describeError } from './target';

export const RECORDING_SID = /^RE[0-9a-fA-F]{32}$/;
const DAY_MS = 24 * 60 * 60 * 1000;
const CALL_SID = /^CA[0-9a-fA-F]{32}$/;

export interface StatusSources {
  readonly ddb: Pick<DynamoDBDocumentClient, 'send'>;
  readonly s3: Pick<S3Client, 'send'>;
  readonly sqs: Pick<SQSClient, 'send'>;
  readonly ledgerTableName: string;
  readonly callsTableName: string;
  readonly callSidIndexName: string;
  readonly bucketName: string;
  readonly deadLetterQueueUrl: string;
  /** Long polling of the DLQ scan (see redrive.ts). Default 1 s. */
  readonly waitTimeSeconds?: number;
  /** Most DLQ jobs looked at. Default 1000. */
  readonly maxDeadLetters?: number;
  /** The target's retention (lib/ops/retention-status.ts), when known: each kept recording's due date. */
  readonly retentionDays?: number;
  /** Sources kept for other periods than `retentionDays` (`retention.bySource`). */
  readonly retentionDaysBySource?: DaysBySource;
  /** For tests: the time the due dates are measured against. */
  readonly now?: () => Date;
}

export type StatusQuery = { readonly recordingSid: string } | { readonly callId: string };

export interface DeadLetterJob {
  readonly messageId: string;
  readonly recordingSid?: string;
  readonly callSid?: string;
  readonly conferenceSid?: string;
  readonly errorCode?: string;
  readonly error?: string;
  readonly attempts?: number;
  /** When the job was first queued (ISO-8601), as SQS keeps it across the move to the DLQ. */
  readonly queuedAt?: string;
}

export interface ObjectState {
  readonly bucket: string;
  readonly key: string;
  readonly present: boolean;
  readonly sizeBytes?: number;
  readonly sha256?: string;
  readonly contentType?: string;
  /** Set when the HEAD itself failed (e.g. access denied): presence unknown. */
  readonly error?: string;
}

export interface RecordingStatus {
  readonly recordingSid: string;
  readonly callId?: string;
  readonly callSid?: string;
  /** The conference recorded, for a conference recording. */
  readonly conferenceSid?: string;
  /** The ledger item (the claim fields left out), or null when the ledger does not know it. */
  readonly ledger: Omit<LedgerItem, 'claimId'> | null;
  /** The call's `recordings.<sid>` entry, or null. */
  readonly callEntry: RecordingEntry | null;
  /** The object the ledger (or the call entry) names; null when neither names one. */
  readonly object: ObjectState | null;
  readonly deadLetters: readonly DeadLetterJob[];
  /** When the retention sweep erases it (startedAt + retention days): a kept recording of a target with retention. */
  readonly retentionDueAt?: string;
  /**
   * Instead of `retentionDueAt`, why it is not known: the periods given (cdk.json, RETENTION_DAYS)
   * make other walks than the sweep's last run did, so a date from them would be wrong.
   */
  readonly retentionUnknown?: string;
  /** Disagreements and states that need a person, one sentence each. */
  readonly issues: readonly string[];
}

export interface StatusReport {
  readonly query: StatusQuery;
  /** The call item looked at (for --call, or the recording's call). */
  readonly call: { readonly callId: string; readonly twilioCallSid?: string } | null;
  readonly recordings: readonly RecordingStatus[];
  /** DLQ jobs looked at; `deadLettersTruncated` when there were more than the limit. */
  readonly deadLettersScanned: number;
  readonly deadLettersTruncated: boolean;
}

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

export async function recordingStatus(given: StatusSources, query: StatusQuery): Promise<StatusReport> {
  const sources = await withSweepRetention(given);
  const scan = await peekDeadLetters(sources);
  const base = { query, deadLettersScanned: scan.scanned, deadLettersTruncated: scan.truncated };

  if ('recordingSid' in query) {
    const sid = query.recordingSid;
    const ledger = await getLedger(sources, sid);
    const jobs = scan.jobs.filter((j) => j.recordingSid === sid);
    // Without a ledger item, a dead-lettered job still names the call.
    const callSid = ledger?.callSid ?? jobs.find((j) => j.callSid)?.callSid;
    const call =
      (ledger?.callId ? await getCall(sources, ledger.callId) : undefined) ??
      (callSid ? await callBySid(sources, callSid) : undefined);
    const entry = call?.recordings?.[sid];
    if (!ledger && !entry && jobs.length === 0) {
      throw new NotFoundError(
        `recording ${sid} is unknown to the vault: no ledger entry, call entry or dead-letter job`,
      );
    }
    return {
      ...base,
      call: call ? callSummary(call) : null,
      recordings: [await describeRecording(sources, sid, ledger, call, jobs)],
    };
  }

  const call =
    (await getCall(sources, query.callId)) ??
    (CALL_SID.test(query.callId) ? await callBySid(sources, query.callId) : undefined);
  if (!call) throw new NotFoundError(`call ${query.callId} is unknown: no item in the calls table`);
  const callSid = call.twilioCallSid;
  // Jobs of this call whose recording never reached the call item are shown too.
  const sids = new Set(Object.keys(call.recordings ?? {}));
  for (const job of scan.jobs) if (callSid && job.callSid === callSid && job.recordingSid) sids.add(job.recordingSid);
  const recordings: RecordingStatus[] = [];
  for (const sid of [...sids].sort()) {
    const ledger = await getLedger(sources, sid);
    recordings.push(
      await describeRecording(
        sources,
        sid,
        ledger,
        call,
        scan.jobs.filter((j) => j.recordingSid === sid),
      ),
    );
  }
  recordings.sort((a, b) => startOf(a).localeCompare(startOf(b)) || a.recordingSid.localeCompare(b.recordingSid));
  return { ...base, call: callSummary(call), recordings };
}

const PERIODS_DIFFER =
  'unknown: the retention periods given here differ from those of the sweep’s last run (npm run status -- --retention says more)';

/** The sources, without periods the sweep does not use (a due date from them would be wrong). */
async function withSweepRetention(sources: StatusSources): Promise<StatusSources & { retentionUnknown?: string }> {
  if (sources.retentionDays === undefined) return sources;
  const differs = await retentionDiffersFromSweep(sources.ddb, sources.ledgerTableName, {
    days: sources.retentionDays,
    bySource: sources.retentionDaysBySource ?? {},
  });
  if (!differs) return sources;
  const { retentionDays: _days, retentionDaysBySource: _bySource, ...rest } = sources;
  return { ...rest, retentionUnknown: PERIODS_DIFFER };
}

const startOf = (r: RecordingStatus) => r.ledger?.startedAt ?? r.callEntry?.startedAt ?? '';

function callSummary(call: CallItem): { callId: string; twilioCallSid?: string } {
  return { callId: call.callId, ...(call.twilioCallSid ? { twilioCallSid: call.twilioCallSid } : {}) };
}

async function describeRecording(
  sources: StatusSources & { retentionUnknown?: string },
  recordingSid: string,
  ledger: LedgerItem | undefined,
  call: CallItem | undefined,
  deadLetters: DeadLetterJob[],
): Promise<RecordingStatus> {
  const entry = call?.recordings?.[recordingSid];
  const bucket = ledger?.bucket ?? entry?.bucket ?? sources.bucketName;
  const key = ledger?.key ?? entry?.key;
  const object = key ? await headObject(sources, bucket, key) : null;
  const { claimId: _claim, ...ledgerShown } = ledger ?? ({} as LedgerItem);
  const callSid = ledger?.callSid ?? call?.twilioCallSid ?? deadLetters.find((j) => j.callSid)?.callSid;
  const callId = ledger?.callId ?? call?.callId;
  const conferenceSid = ledger?.conferenceSid ?? deadLetters.find((j) => j.conferenceSid)?.conferenceSid;
  const kept = ledger?.status === 'stored' || ledger?.status === 'erasing';
  const retentionDays =
    sources.retentionDays !== undefined
      ? (sources.retentionDaysBySource?.[ledger?.source as RecordingSource] ?? sources.retentionDays)
      : undefined;
  const retentionDueAt =
    kept && retentionDays !== undefined && ledger?.startedAt
      ? new Date(Date.parse(ledger.startedAt) + retentionDays * DAY_MS).toISOString()
      : undefined;
  const now = (sources.now ?? (() => new Date()))().getTime();
  return {
    recordingSid,
    ...(callId ? { callId } : {}),
    ...(callSid ? { callSid } : {}),
    ...(conferenceSid ? { conferenceSid } : {}),
    ledger: ledger ? ledgerShown : null,
    callEntry: entry ?? null,
    object,
    deadLetters,
    ...(retentionDueAt ? { retentionDueAt } : {}),
    ...(kept && sources.retentionUnknown ? { retentionUnknown: sources.retentionUnknown } : {}),
    issues: [
      ...findIssues(ledger, entry, object, deadLetters, now),
      ...(retentionDueAt && !ledger?.hold && Date.parse(retentionDueAt) < now - DAY_MS
        ? [
            `past its retention since ${retentionDueAt} and not held: the sweep has not reached it (npm run status -- --retention)`,
          ]
        : []),
    ],
  };
}

/** Where the sources disagree, or the state needs someone: what to look at, not a verdict. */
export function findIssues(
  ledger: LedgerItem | undefined,
  entry: RecordingEntry | undefined,
  object: ObjectState | null,
  deadLetters: readonly DeadLetterJob[],
  now = Date.now(),
): string[] {
  const issues: string[] = [];
  if (!ledger) {
    issues.push('the ledger has no entry for it: the vault never claimed it (a job may still be queued)');
  }
  const status = ledger?.status;
  // Mid-erasure the entry still says stored; the retention sweep marks an expired recording's entry erased.
  const agrees =
    (status === 'erasing' && entry?.status === 'stored') || (status === 'expired' && entry?.status === 'erased');
  if (ledger && entry && entry.status !== status && !agrees) {
    issues.push(
      `the call entry says ${entry.status}, the ledger ${status}: the ledger is right; the next job for it rewrites the entry`,
    );
  }
  // A conference recording Twilio reported without a CallSid has no call item, by design.
  if (ledger && !entry && (ledger.callId || ledger.callSid)) issues.push('the call item has no entry for it');
  if (status === 'stored' || status === 'erasing') {
    if (object && !object.present && !object.error) issues.push('the ledger says stored, but the object is missing');
  }
  if (object?.present && ledger?.sizeBytes !== undefined && object.sizeBytes !== ledger.sizeBytes) {
    issues.push(`the object is ${object.sizeBytes} B, the ledger says ${ledger.sizeBytes} B`);
  }
  if (object?.present && ledger?.sha256 && object.sha256 !== ledger.sha256) {
    issues.push(
      object.sha256
        ? 'the object’s sha256 (metadata or tag) differs from the ledger’s'
        : 'the object carries no sha256 (metadata or tag) to check against the ledger',
    );
  }
  if (object?.present && (status === 'erased' || status === 'expired')) {
    issues.push(`the ledger says ${status}, but the object is still there`);
  }
  if (object?.error) issues.push(`the object could not be checked: ${object.error}`);
  if (status === 'transferring' && ledger?.leaseExpiresAt !== undefined && ledger.leaseExpiresAt < now) {
    issues.push(
      `its copy stopped: the claim ran out at ${new Date(ledger.leaseExpiresAt).toISOString()}; the next delivery of its job takes it over`,
    );
  }
  if (deadLetters.length > 0 && (status === 'stored' || status === 'erased')) {
    issues.push(
      `${deadLetters.length} job(s) for it in the dead-letter queue though it is ${status}: redriving them does nothing`,
    );
  } else if (deadLetters.length > 0) {
    issues.push(`${deadLetters.length} job(s) for it in the dead-letter queue: fix the cause, then npm run redrive`);
  } else if (status === 'failed') {
    issues.push('failed, and no job for it is in the dead-letter queue (redriven meanwhile, or deleted)');
  }
  return issues;
}

/* ---------------------------------------------------------------------------------------------
 * Sources
 * ------------------------------------------------------------------------------------------- */

async function getLedger(sources: StatusSources, recordingSid: string): Promise<LedgerItem | undefined> {
  const { Item } = await sources.ddb.send(
    new GetCommand({ TableName: sources.ledgerTableName, Key: { recordingSid }, ConsistentRead: true }),
  );
  return Item as LedgerItem | undefined;
}

async function getCall(sources: StatusSources, callId: string): Promise<CallItem | undefined> {
  const { Item } = await sources.ddb.send(
    new GetCommand({ TableName: sources.callsTableName, Key: { callId }, ConsistentRead: true }),
  );
  return Item as CallItem | undefined;
}

async function callBySid(sources: StatusSources, callSid: string): Promise<CallItem | undefined> {
  const { Items = [] } = await sources.ddb.send(
    new QueryCommand({
      TableName: sources.callsTableName,
      IndexName: sources.callSidIndexName,
      KeyConditionExpression: 'twilioCallSid = :sid',
      ExpressionAttributeValues: { ':sid': callSid },
      Limit: 1,
    }),
  );
  const found = Items[0] as CallItem | undefined;
  // The index projects every attribute, but may lag: read the item itself.
  return found ? ((await getCall(sources, found.callId)) ?? found) : undefined;
}

async function headObject(sources: StatusSources, bucket: string, key: string): Promise<ObjectState> {
  try {
    const head = await sources.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    // A multipart recording carries its hash as a tag; without s3:GetObjectTagging it reads as none.
    const sha256 = await storedSha256(sources.s3, bucket, key, head.Metadata).catch(() => undefined);
    return {
      bucket,
      key,
      present: true,
      ...(head.ContentLength !== undefined ? { sizeBytes: head.ContentLength } : {}),
      ...(sha256 ? { sha256 } : {}),
      ...(head.ContentType ? { contentType: head.ContentType } : {}),
    };
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const name = (error as { name?: string }).name;
    if (status === 404 || name === 'NotFound' || name === 'NoSuchKey') return { bucket, key, present: false };
    return {
      bucket,
      key,
      present: false,
      error: status === 403 ? 'access denied (HEAD needs s3:GetObject and s3:ListBucket)' : describeError(error),
    };
  }
}

/** Every DLQ job (up to the limit), parsed; received with a short visibility timeout and released. */
export async function peekDeadLetters(
  sources: Pick<StatusSources, 'sqs' | 'deadLetterQueueUrl' | 'waitTimeSeconds' | 'maxDeadLetters'>,
): Promise<{ jobs: DeadLetterJob[]; scanned: number; truncated: boolean }> {
  const limit = sources.maxDeadLetters ?? 1000;
  const seen = new Map<string, DeadLetterJob>();
  const held: Message[] = [];
  let truncated = false;
  try {
    for (;;) {
      const { Messages = [] } = await sources.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: sources.deadLetterQueueUrl,
          MaxNumberOfMessages: 10,
          // Long enough to go through the queue once without seeing a job twice.
          VisibilityTimeout: 30,
          WaitTimeSeconds: sources.waitTimeSeconds ?? 1,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['SentTimestamp'],
        }),
      );
      held.push(...Messages);
      const fresh = Messages.filter((m) => m.MessageId && !seen.has(m.MessageId));
      for (const message of fresh) seen.set(message.MessageId as string, deadLetterJob(message));
      if (fresh.length === 0) break;
      if (seen.size >= limit) {
        truncated = true;
        break;
      }
    }
  } finally {
    for (let start = 0; start < held.length; start += 10) {
      const batch = held.slice(start, start + 10);
      await sources.sqs
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: sources.deadLetterQueueUrl,
            Entries: batch.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })),
          }),
        )
        .catch(() => undefined);
    }
  }
  return { jobs: [...seen.values()], scanned: seen.size, truncated };
}

function deadLetterJob(message: Message): DeadLetterJob {
  let body: { recordingSid?: unknown; callSid?: unknown; conferenceSid?: unknown } = {};
  try {
    const parsed = JSON.parse(message.Body ?? '') as unknown;
    if (parsed && typeof parsed === 'object') body = parsed as typeof body;
  } catch {
    // A `bad-job`: not JSON; it still shows up in the scan count.
  }
  const attribute = (name: string) => message.MessageAttributes?.[name]?.StringValue;
  const attempts = Number(attribute('attempts'));
  const sent = Number(message.Attributes?.SentTimestamp);
  return {
    messageId: message.MessageId ?? '',
    ...(typeof body.recordingSid === 'string' ? { recordingSid: body.recordingSid } : {}),
    ...(typeof body.callSid === 'string' ? { callSid: body.callSid } : {}),
    ...(typeof body.conferenceSid === 'string' ? { conferenceSid: body.conferenceSid } : {}),
    ...(attribute('errorCode') ? { errorCode: attribute('errorCode') } : {}),
    ...(attribute('error') ? { error: attribute('error') } : {}),
    ...(Number.isFinite(attempts) && attribute('attempts') ? { attempts } : {}),
    ...(Number.isFinite(sent) && sent > 0 ? { queuedAt: new Date(sent).toISOString() } : {}),
  };
}

/* ---------------------------------------------------------------------------------------------
 * For a person
 * ------------------------------------------------------------------------------------------- */

/** Aligned `label  value` lines; the JSON form is the report itself. */
export function formatStatus(report: StatusReport, now = Date.now()): string {
  const out: string[] = [];
  const rows: Array<[string, string] | string> = [];
  if (report.call) {
    rows.push(
      `call ${report.call.callId}${report.call.twilioCallSid ? ` (CallSid ${report.call.twilioCallSid})` : ''}`,
    );
  }
  if (report.recordings.length === 0) rows.push('  no recordings');
  for (const r of report.recordings) {
    rows.push(`recording ${r.recordingSid}`);
    if (!report.call && (r.callId || r.callSid)) {
      rows.push([
        'call',
        [r.callId, r.callSid && r.callSid !== r.callId ? `CallSid ${r.callSid}` : ''].filter(Boolean).join(', '),
      ]);
    }
    if (r.conferenceSid) rows.push(['conference', r.conferenceSid]);
    rows.push(['ledger', ledgerLine(r.ledger)]);
    if (r.ledger?.encryption) {
      // Twilio's Voice Recording Encryption: the object is ciphertext; say how to get audio (docs/encryption.md).
      const { type, publicKeySid } = r.ledger.encryption;
      rows.push([
        'encrypted',
        `${type} for public key ${publicKeySid}: npm run decrypt -- --recording ${r.recordingSid} --private-key <key.pem> --out <file.wav>`,
      ]);
    }
    if (r.ledger) rows.push(['times', `started ${r.ledger.startedAt}, updated ${r.ledger.updatedAt}`]);
    if (r.ledger?.hold) {
      const { at, by, reason: why } = r.ledger.hold;
      rows.push(['hold', `held since ${at} by ${by}: ${why}`]);
    }
    if (r.retentionDueAt) rows.push(['retention', retentionLine(r.retentionDueAt, r.ledger?.hold !== undefined, now)]);
    if (r.retentionUnknown) rows.push(['retention', r.retentionUnknown]);
    rows.push(['call entry', entryLine(r.callEntry)]);
    rows.push(['object', objectLine(r.object, r.ledger)]);
    if (r.deadLetters.length === 0) rows.push(['dead letters', 'none']);
    for (const job of r.deadLetters) rows.push(['dead letter', deadLetterLine(job)]);
    for (const issue of r.issues) rows.push(['issue', issue]);
  }
  if (report.deadLettersTruncated) {
    rows.push(`(only the first ${report.deadLettersScanned} jobs of the dead-letter queue were looked at)`);
  }
  const width = Math.max(...rows.map((row) => (typeof row === 'string' ? 0 : row[0].length)));
  for (const row of rows) out.push(typeof row === 'string' ? row : `  ${row[0].padEnd(width)}  ${row[1]}`);
  return out.join('\n');
}

function reason(code: string | undefined, error: string | undefined): string {
  return [code, error].filter(Boolean).join(': ');
}

function ledgerLine(ledger: RecordingStatus['ledger']): string {
  if (!ledger) return 'no entry';
  let line: string = ledger.status;
  if (ledger.status === 'stored' || ledger.status === 'erasing') {
    line += ` at ${ledger.storedAt ?? '?'}, ${ledger.sizeBytes ?? '?'} B, sha256 ${ledger.sha256 ?? '?'}`;
  } else if (ledger.status === 'erased') {
    line += ` at ${ledger.erasedAt ?? '?'}${ledger.erasedBy ? ` by ${ledger.erasedBy}` : ''}`;
  } else if (ledger.status === 'expired') {
    line += ` at ${ledger.expiredAt ?? '?'} by the retention sweep`;
  } else if (ledger.status === 'transferring' && ledger.leaseExpiresAt !== undefined) {
    line += `, claimed until ${new Date(ledger.leaseExpiresAt).toISOString()}`;
  }
  // A stored recording keeps the reason of an earlier failure; it no longer matters.
  const why = reason(ledger.errorCode, ledger.error);
  return why && ledger.status !== 'stored' ? `${line} (${why})` : line;
}

function retentionLine(dueAt: string, held: boolean, now: number): string {
  if (held) return `due ${dueAt}; passed by while held, expired by the first sweep after the release`;
  return Date.parse(dueAt) <= now
    ? `due since ${dueAt}: the next sweep expires it`
    : `expired by the sweep after ${dueAt}`;
}

function entryLine(entry: RecordingEntry | null): string {
  if (!entry) return 'none';
  const why = reason(entry.errorCode, entry.error);
  return why ? `${entry.status} (${why})` : entry.status;
}

function objectLine(object: ObjectState | null, ledger: RecordingStatus['ledger']): string {
  if (!object) return 'none named';
  const where = `s3://${object.bucket}/${object.key}`;
  if (object.error) return `${where}: unknown (${object.error})`;
  if (!object.present) return `${where}: missing`;
  const checks: string[] = [`${object.sizeBytes ?? '?'} B`];
  if (ledger?.sizeBytes !== undefined)
    checks.push(object.sizeBytes === ledger.sizeBytes ? 'size matches' : 'size differs');
  if (ledger?.sha256) {
    checks.push(
      !object.sha256
        ? 'no sha256 on the object'
        : object.sha256 === ledger.sha256
          ? 'sha256 matches'
          : 'sha256 differs',
    );
  }
  return `${where}: present, ${checks.join(', ')}`;
}

function deadLetterLine(job: DeadLetterJob): string {
  const parts = [job.errorCode ?? 'no errorCode'];
  if (job.attempts !== undefined) parts.push(`after ${job.attempts} attempt(s)`);
  let line = parts.join(' ');
  if (job.error) line += `: ${job.error}`;
  if (job.queuedAt) line += ` · queued ${job.queuedAt}`;
  return line;
}
