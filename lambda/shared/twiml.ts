// Only the TwiML builder, not the whole twilio SDK. Not bundled into any Lambda: these helpers
// are for the app that answers the call, so that its recordings reach this pipeline.
import VoiceResponse from 'twilio/lib/twiml/VoiceResponse';
import { formatPhoneNumber } from './phone-numbers';

export interface RecordedDialOptions {
  /** The number to connect the caller to; normalised to E.164. */
  readonly to: string;
  /** This deployment's webhook: `<api>/twilio/recording`. */
  readonly recordingStatusCallback: string;
  /** Record both parties on separate channels (default) or mixed to mono. */
  readonly dualChannel?: boolean;
  readonly callerId?: string;
}

/**
 * TwiML that connects the call and records it, sending the recording status callback to this
 * deployment for `completed` and `absent` recordings (the ones the pipeline acts on).
 */
export function generateTwiMLResponse(options: RecordedDialOptions): string {
  const to = formatPhoneNumber(options.to);
  if (!to) throw new Error('The number to dial is not a phone number');
  const response = new VoiceResponse();
  const dial = response.dial({
    record: options.dualChannel === false ? 'record-from-answer' : 'record-from-answer-dual',
    recordingStatusCallback: options.recordingStatusCallback,
    recordingStatusCallbackMethod: 'POST',
    recordingStatusCallbackEvent: ['completed', 'absent'],
    ...(options.callerId ? { callerId: formatPhoneNumber(options.callerId) ?? options.callerId } : {}),
  });
  dial.number(to);
  return response.toString();
}

/** TwiML that forks the call's audio to a WebSocket (`wss://…`) while the call goes on. */
export function generateStreamTwiML(
  streamUrl: string,
  track: 'inbound_track' | 'outbound_track' | 'both_tracks' = 'both_tracks',
): string {
  if (!/^wss:\/\//.test(streamUrl)) throw new Error('Media streams need a wss:// URL');
  const response = new VoiceResponse();
  response.start().stream({ url: streamUrl, track });
  return response.toString();
}
