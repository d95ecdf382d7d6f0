/** Twilio's SIDs: two letters naming the resource, then 32 hex digits. */
export const SID = {
  AccountSid: /^AC[0-9a-fA-F]{32}$/,
  CallSid: /^CA[0-9a-fA-F]{32}$/,
  ConferenceSid: /^CF[0-9a-fA-F]{32}$/,
  RecordingSid: /^RE[0-9a-fA-F]{32}$/,
} as const;

/** The 400 of every route whose path names a RecordingSid that is not one: one wording everywhere. */
export const MALFORMED_RECORDING_SID = 'The RecordingSid must be RE followed by 32 hex digits';
