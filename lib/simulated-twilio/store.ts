/**
 * The simulated Twilio account's data: recordings (with their media bytes) and calls, their JSON
 * as Twilio's REST API 2010-04-01 renders it, and the recording list resource's filters and paging.
 * Pure data, no HTTP: the server in ../simulated-twilio.ts answers with what this computes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type EncryptionDetails, toTwilioJson } from '../../lambda/shared/twilio/encryption-details';

export const API_VERSION = '2010-04-01';

export type RecordingStatus =
  | 'in-progress'
  | 'paused'
  | 'stopped'
  | 'processing'
  | 'completed'
  | 'absent'
  | 'failed'
  | 'deleted';

export type RecordingSource =
  | 'DialVerb'
  | 'Conference'
  | 'OutboundAPI'
  | 'Trunking'
  | 'RecordVerb'
  | 'StartCallRecordingAPI'
  | 'StartConferenceRecordingAPI';

export type CallDirection =
  | 'inbound'
  | 'outbound-api'
  | 'outbound-dial'
  | 'trunking-terminating'
  | 'trunking-originating';

export interface RecordingFields {
  /** Default: a fresh `RE…` SID. */
  readonly sid?: string;
  /**
   * The parent call leg. Default: a fresh `CA…` SID (no call resource is added for it); for a
   * conference recording (`Conference`, `StartConferenceRecordingAPI`) none (null), as Twilio
   * reports it without a call.
   */
  readonly callSid?: string | null;
  /** Default: a fresh `CF…` SID for a conference recording, null otherwise. */
  readonly conferenceSid?: string | null;
  /** When Twilio created the recording resource; what the list filters and sorts on. Default: `startTime`, else now. */
  readonly dateCreated?: Date;
  /** Default: `dateCreated`. */
  readonly startTime?: Date;
  /** Seconds. Default 42. */
  readonly duration?: number;
  /** Default 2 (two-party recordings are dual-channel). */
  readonly channels?: 1 | 2;
  /** Default `DialVerb`. */
  readonly source?: RecordingSource;
  /** `RecordingTrack` of the callback. Default `both`. */
  readonly track?: 'inbound' | 'outbound' | 'both';
  /** Default `completed`; only `completed` recordings have media. */
  readonly status?: RecordingStatus;
  /** Default null (`absent`: 16101, recording too short). */
  readonly errorCode?: number | null;
}

/** A recording the simulator holds; `status` and `dateUpdated` change when it is deleted. */
export interface SimulatedRecording {
  readonly sid: string;
  readonly accountSid: string;
  /** Null for a conference recording that names no call. */
  readonly callSid: string | null;
  readonly conferenceSid: string | null;
  readonly dateCreated: Date;
  readonly dateUpdated: Date;
  readonly startTime: Date;
  readonly duration: number;
  readonly channels: 1 | 2;
  readonly source: RecordingSource;
  readonly track: 'inbound' | 'outbound' | 'both';
  readonly status: RecordingStatus;
  readonly errorCode: number | null;
  /** Voice Recording Encryption: set when `media` is the encrypted WAV (./encryption.ts). */
  readonly encryptionDetails: EncryptionDetails | null;
  /** The exact bytes served as its media: both formats, or the WAV of real audio (see SimulatedTwilio.mediaFor). */
  readonly media: Buffer;
}

export type MutableRecording = { -readonly [K in keyof SimulatedRecording]: SimulatedRecording[K] };

export interface CallFields {
  /** Default: a fresh `CA…` SID. */
  readonly sid?: string;
  /** E.164, or `client:name`, `sip:…`. Default `+14155550100`. */
  readonly from?: string;
  /** Default `+14155550199`. */
  readonly to?: string;
  /** Default `inbound`. */
  readonly direction?: CallDirection;
  /** Default `completed`. */
  readonly status?: string;
  /** Default now. */
  readonly startTime?: Date;
  /** Seconds. Default 60 for a completed call; none (null) otherwise. */
  readonly duration?: number;
  readonly parentCallSid?: string | null;
}

export interface SimulatedCall {
  readonly sid: string;
  readonly accountSid: string;
  readonly from: string;
  readonly to: string;
  readonly direction: CallDirection;
  readonly status: string;
  readonly startTime: Date;
  /** Null while the call is not over. */
  readonly endTime: Date | null;
  readonly duration: number | null;
  readonly parentCallSid: string | null;
}

/** A fresh SID with Twilio's shape: two letters and 32 lowercase hex digits. */
export function newSid(prefix: 'RE' | 'CA' | 'CF'): string {
  return `${prefix}${randomBytes(16).toString('hex')}`;
}

/** Deterministic pseudo-random bytes for a recording: sha256 blocks of (seed, counter). */
export function mediaBytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let offset = 0;
  for (let block = 0; offset < size; block++) {
    const digest = createHash('sha256').update(`${seed}:${block}`).digest();
    offset += digest.copy(out, offset, 0, Math.min(digest.length, size - offset));
  }
  return out;
}

/** RFC 2822 as Twilio writes it: `Mon, 22 Jul 2024 17:00:00 +0000`. */
export function rfc2822(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

/** Sources of a conference's recording: Twilio names the conference, and may name no call. */
export const CONFERENCE_SOURCES: readonly RecordingSource[] = ['Conference', 'StartConferenceRecordingAPI'];

export function newRecording(accountSid: string, fields: RecordingFields, media: Buffer): MutableRecording {
  const now = new Date();
  const dateCreated = fields.dateCreated ?? fields.startTime ?? now;
  const status = fields.status ?? 'completed';
  const conference = CONFERENCE_SOURCES.includes(fields.source ?? 'DialVerb');
  return {
    sid: fields.sid ?? newSid('RE'),
    accountSid,
    callSid: fields.callSid !== undefined ? fields.callSid : conference ? null : newSid('CA'),
    conferenceSid: fields.conferenceSid !== undefined ? fields.conferenceSid : conference ? newSid('CF') : null,
    dateCreated,
    dateUpdated: dateCreated,
    startTime: fields.startTime ?? dateCreated,
    duration: fields.duration ?? 42,
    channels: fields.channels ?? 2,
    source: fields.source ?? 'DialVerb',
    track: fields.track ?? 'both',
    status,
    errorCode: fields.errorCode !== undefined ? fields.errorCode : status === 'absent' ? 16101 : null,
    encryptionDetails: null,
    media,
  };
}

export function newCall(accountSid: string, fields: CallFields): SimulatedCall {
  const status = fields.status ?? 'completed';
  const startTime = fields.startTime ?? new Date();
  const duration = fields.duration ?? (status === 'completed' ? 60 : null);
  return {
    sid: fields.sid ?? newSid('CA'),
    accountSid,
    from: fields.from ?? '+14155550100',
    to: fields.to ?? '+14155550199',
    direction: fields.direction ?? 'inbound',
    status,
    startTime,
    endTime: status === 'completed' && duration !== null ? new Date(startTime.getTime() + duration * 1000) : null,
    duration,
    parentCallSid: fields.parentCallSid ?? null,
  };
}

export function accountPath(accountSid: string): string {
  return `/${API_VERSION}/Accounts/${accountSid}`;
}

/** A recording as `GET …/Recordings/{Sid}.json` and the list render it. */
export function recordingJson(recording: SimulatedRecording, baseUrl: string): Record<string, unknown> {
  const path = `${accountPath(recording.accountSid)}/Recordings/${recording.sid}`;
  return {
    account_sid: recording.accountSid,
    api_version: API_VERSION,
    call_sid: recording.callSid,
    conference_sid: recording.conferenceSid,
    date_created: rfc2822(recording.dateCreated),
    date_updated: rfc2822(recording.dateUpdated),
    start_time: rfc2822(recording.startTime),
    duration: String(recording.duration),
    sid: recording.sid,
    price: recording.status === 'completed' ? '-0.00250' : null,
    price_unit: 'USD',
    status: recording.status,
    channels: recording.channels,
    source: recording.source,
    error_code: recording.errorCode,
    uri: `${path}.json`,
    encryption_details: recording.encryptionDetails ? toTwilioJson(recording.encryptionDetails) : null,
    media_url: `${baseUrl}${path}`,
    subresource_uris: {
      add_on_results: `${path}/AddOnResults.json`,
      transcriptions: `${path}/Transcriptions.json`,
    },
  };
}

export function callJson(call: SimulatedCall): Record<string, unknown> {
  const path = `${accountPath(call.accountSid)}/Calls/${call.sid}`;
  return {
    sid: call.sid,
    account_sid: call.accountSid,
    api_version: API_VERSION,
    parent_call_sid: call.parentCallSid,
    date_created: rfc2822(call.startTime),
    date_updated: rfc2822(call.endTime ?? call.startTime),
    from: call.from,
    from_formatted: call.from,
    to: call.to,
    to_formatted: call.to,
    direction: call.direction,
    status: call.status,
    start_time: rfc2822(call.startTime),
    end_time: call.endTime ? rfc2822(call.endTime) : null,
    duration: call.duration === null ? null : String(call.duration),
    price: null,
    price_unit: 'USD',
    answered_by: null,
    caller_name: null,
    forwarded_from: null,
    uri: `${path}.json`,
    subresource_uris: { recordings: `${path}/Recordings.json` },
  };
}

/** The list resource's filters, repeated in every page URI, in this order. */
const FILTERS = ['DateCreated', 'DateCreated>', 'DateCreated<', 'CallSid', 'ConferenceSid', 'IncludeSoftDeleted'];
export const MAX_PAGE_SIZE = 1000;
const DEFAULT_PAGE_SIZE = 50;

/** 400 with Twilio's error code for a bad parameter. */
export class BadListRequest extends Error {}

/** Newest first; the SID breaks ties so that the order is total. */
function newerFirst(a: SimulatedRecording, b: SimulatedRecording): number {
  return b.dateCreated.getTime() - a.dateCreated.getTime() || (a.sid < b.sid ? 1 : a.sid > b.sid ? -1 : 0);
}

/**
 * The UTC day of a `DateCreated` filter value. Twilio documents `YYYY-MM-DD` and ignores the time
 * of day of a date-time, so a date-time counts for its whole (UTC) day.
 */
function filterDay(name: string, value: string): string {
  const time = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : Date.parse(value);
  if (Number.isNaN(time)) throw new BadListRequest(`Invalid value '${value}' for ${name}`);
  return new Date(time).toISOString().slice(0, 10);
}

function integer(name: string, value: string | null, fallback: number, min: number, max: number): number {
  if (value === null) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new BadListRequest(`${name} must be an integer from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

/**
 * One page of `GET …/Recordings.json`, as Twilio answers it: newest first; `DateCreated`,
 * `DateCreated>` (on or after) and `DateCreated<` (on or before) compare UTC days, inclusive;
 * `CallSid`, `ConferenceSid`; deleted recordings only with `IncludeSoftDeleted=true`.
 * `PageToken` is `PA{sid}` (the page after that recording) or `PB{sid}` (the page before it).
 * Throws BadListRequest for a parameter Twilio would refuse.
 */
export function recordingsPage(
  all: Iterable<SimulatedRecording>,
  query: URLSearchParams,
  listPath: string,
  baseUrl: string,
): Record<string, unknown> {
  const on = query.get('DateCreated');
  const from = query.get('DateCreated>');
  const to = query.get('DateCreated<');
  const days = {
    on: on === null ? undefined : filterDay('DateCreated', on),
    from: from === null ? undefined : filterDay('DateCreated>', from),
    to: to === null ? undefined : filterDay('DateCreated<', to),
  };
  const callSid = query.get('CallSid');
  const conferenceSid = query.get('ConferenceSid');
  const withDeleted = query.get('IncludeSoftDeleted')?.toLowerCase() === 'true';
  const pageSize = integer('PageSize', query.get('PageSize'), DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE);
  const page = integer('Page', query.get('Page'), 0, 0, Number.MAX_SAFE_INTEGER);
  const token = query.get('PageToken');

  const everything = [...all];
  const matching = everything
    .filter((r) => {
      const day = r.dateCreated.toISOString().slice(0, 10);
      return (
        (withDeleted || r.status !== 'deleted') &&
        (days.on === undefined || day === days.on) &&
        (days.from === undefined || day >= days.from) &&
        (days.to === undefined || day <= days.to) &&
        (callSid === null || r.callSid === callSid) &&
        (conferenceSid === null || r.conferenceSid === conferenceSid)
      );
    })
    .sort(newerFirst);

  let startIndex = page * pageSize;
  let endIndex = startIndex + pageSize;
  if (token !== null) {
    const anchor = /^P[AB](RE[0-9a-f]{32})$/.exec(token)?.[1];
    const key = everything.find((r) => r.sid === anchor);
    if (!key) throw new BadListRequest(`Invalid PageToken '${token}'`);
    const at = (test: (r: SimulatedRecording) => boolean) => {
      const index = matching.findIndex(test);
      return index === -1 ? matching.length : index;
    };
    if (token.startsWith('PA')) {
      startIndex = at((r) => newerFirst(r, key) > 0);
      endIndex = startIndex + pageSize;
    } else {
      endIndex = at((r) => newerFirst(r, key) >= 0);
      startIndex = Math.max(0, endIndex - pageSize);
    }
  }
  const items = matching.slice(startIndex, endIndex);
  const first = items[0];
  const last = items[items.length - 1];

  const uri = (pageNumber: number, pageToken?: string): string => {
    const params = new URLSearchParams();
    for (const name of FILTERS) {
      for (const value of query.getAll(name)) params.append(name, value);
    }
    params.set('PageSize', String(pageSize));
    params.set('Page', String(pageNumber));
    if (pageToken) params.set('PageToken', pageToken);
    return `${listPath}?${params.toString()}`;
  };
  const start = page * pageSize;
  return {
    first_page_uri: uri(0),
    next_page_uri: last && startIndex + items.length < matching.length ? uri(page + 1, `PA${last.sid}`) : null,
    previous_page_uri: page > 0 ? uri(page - 1, first ? `PB${first.sid}` : undefined) : null,
    page,
    page_size: pageSize,
    start,
    end: start + Math.max(items.length - 1, 0),
    uri: uri(page, token ?? undefined),
    recordings: items.map((r) => recordingJson(r, baseUrl)),
  };
}
