/**
 * Twilio's own value sets for the enumerated parameters of a recording status callback.
 *
 * Why strict: Twilio signs the URL followed by each name and value with no separator, so moving
 * the boundary between one parameter and the next (`RecordingSource=DialVerbRecordingStartTime…`)
 * keeps the signature. A value outside its set is such a re-split, or not Twilio's: refused.
 *
 * Sources: twilio/twilio-oai `spec/json/twilio_api_v2010.json` (`recording_enum_source`;
 * `RecordingTrack` of Calls and Recordings: `inbound`, `outbound`, `both`); Twilio's recording
 * status callback reference (`RecordingChannels` `1` | `2`; events `in-progress`, `completed`,
 * `absent`, and `failed` with recording encryption).
 */
export { RECORDING_SOURCES, RECORDING_STATUSES } from '../shared/job/recording-job';

export const RECORDING_TRACKS = ['inbound', 'outbound', 'both'] as const;

export const RECORDING_CHANNELS = ['1', '2'] as const;

/** Whole seconds and error codes: digits only, so that no other parameter can hide in them. */
export const DIGITS = /^\d{1,12}$/;

export function isOneOf<T extends string>(values: readonly T[], value: string): value is T {
  return (values as readonly string[]).includes(value);
}
