import '../helpers/setup-env';
import { generateStreamTwiML, generateTwiMLResponse } from '../../lambda/shared/twiml';

const CALLBACK = 'https://api.example.com/twilio/recording';

describe('generateTwiMLResponse', () => {
  it('dials the E.164 number and records both parties on separate channels', () => {
    const twiml = generateTwiMLResponse({ to: '(415) 555-0100', recordingStatusCallback: CALLBACK });

    expect(twiml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response>' +
        '<Dial record="record-from-answer-dual" recordingStatusCallback="https://api.example.com/twilio/recording" ' +
        'recordingStatusCallbackMethod="POST" recordingStatusCallbackEvent="completed absent">' +
        '<Number>+14155550100</Number></Dial></Response>',
    );
  });

  it('records mono when dual channel is turned off', () => {
    const twiml = generateTwiMLResponse({ to: '+14155550100', recordingStatusCallback: CALLBACK, dualChannel: false });

    expect(twiml).toContain('record="record-from-answer"');
  });

  it('normalises the caller id', () => {
    const twiml = generateTwiMLResponse({
      to: '+14155550100',
      recordingStatusCallback: CALLBACK,
      callerId: '415 555 0199',
    });

    expect(twiml).toContain('callerId="+14155550199"');
  });

  it('escapes the callback URL for XML', () => {
    const twiml = generateTwiMLResponse({ to: '+14155550100', recordingStatusCallback: `${CALLBACK}?a=1&b=2` });

    expect(twiml).toContain('recordingStatusCallback="https://api.example.com/twilio/recording?a=1&amp;b=2"');
  });

  it('refuses to dial something that is not a phone number', () => {
    expect(() => generateTwiMLResponse({ to: 'client:alice', recordingStatusCallback: CALLBACK })).toThrow(
      'The number to dial is not a phone number',
    );
  });
});

describe('generateStreamTwiML', () => {
  it('forks both tracks to the WebSocket by default', () => {
    expect(generateStreamTwiML('wss://media.example.com/stream')).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Start>' +
        '<Stream url="wss://media.example.com/stream" track="both_tracks"/></Start></Response>',
    );
  });

  it('streams one track when asked', () => {
    expect(generateStreamTwiML('wss://media.example.com/stream', 'inbound_track')).toContain('track="inbound_track"');
  });

  it('refuses a URL that is not wss://', () => {
    expect(() => generateStreamTwiML('https://media.example.com/stream')).toThrow('Media streams need a wss:// URL');
  });
});
