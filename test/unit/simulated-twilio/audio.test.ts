/**
 * The simulated Twilio's audio (lib/simulated-twilio/audio.ts): WAV and MP3 of the recording's
 * duration and channels, different per recording, and served by format.
 */
import '../../helpers/setup-env';
import { SimulatedTwilio } from '../../../lib/simulated-twilio';
import { mp3Audio, recordingAudio, wavAudio } from '../../../lib/simulated-twilio/audio';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../../helpers/twilio-fixtures';

interface WavHeader {
  riff: string;
  wave: string;
  format: number;
  channels: number;
  sampleRate: number;
  byteRate: number;
  bitsPerSample: number;
  dataBytes: number;
}

function wavHeader(bytes: Buffer): WavHeader {
  return {
    riff: bytes.toString('ascii', 0, 4),
    wave: bytes.toString('ascii', 8, 12),
    format: bytes.readUInt16LE(20),
    channels: bytes.readUInt16LE(22),
    sampleRate: bytes.readUInt32LE(24),
    byteRate: bytes.readUInt32LE(28),
    bitsPerSample: bytes.readUInt16LE(34),
    dataBytes: bytes.readUInt32LE(40),
  };
}

/** Walks MPEG-2 layer III frame headers (written here independently of the module's own parser). */
function mpeg2Layer3Frames(bytes: Buffer): { count: number; sampleRate: number; channels: number; end: number } {
  const rates = [22050, 24000, 16000];
  const kbps = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
  let offset = 0;
  let count = 0;
  let sampleRate = 0;
  let channels = 0;
  while (offset + 4 <= bytes.length) {
    const b1 = bytes[offset + 1] as number;
    const b2 = bytes[offset + 2] as number;
    const b3 = bytes[offset + 3] as number;
    // 0xFFF sync, MPEG-2 (version bits 10), layer III (01), no CRC: second byte 0xF3.
    if (bytes[offset] !== 0xff || b1 !== 0xf3) break;
    sampleRate = rates[(b2 >> 2) & 3] ?? 0;
    channels = b3 >> 6 === 3 ? 1 : 2;
    const length = Math.floor((72 * (kbps[b2 >> 4] ?? 0) * 1000) / sampleRate) + ((b2 >> 1) & 1);
    if (length <= 4) break;
    offset += length;
    count++;
  }
  return { count, sampleRate, channels, end: offset };
}

describe('simulated recording audio', () => {
  it('is a PCM 16-bit WAV whose header says its rate, channels and duration', () => {
    const mono = wavAudio({ seed: 'RE-mono', durationSeconds: 2, channels: 1 });
    const stereo = wavAudio({ seed: 'RE-stereo', durationSeconds: 7, channels: 2 });

    expect(wavHeader(mono)).toEqual({
      riff: 'RIFF',
      wave: 'WAVE',
      format: 1,
      channels: 1,
      sampleRate: 8000,
      byteRate: 16_000,
      bitsPerSample: 16,
      dataBytes: 32_000,
    });
    expect(wavHeader(stereo)).toMatchObject({ channels: 2, sampleRate: 8000, byteRate: 32_000, dataBytes: 224_000 });
    expect(mono.length).toBe(44 + 32_000);
    expect(stereo.readUInt32LE(4)).toBe(stereo.length - 8);
  });

  it('sounds: tones, not silence, and each channel of a stereo recording takes its turn', () => {
    const stereo = wavAudio({ seed: 'RE-turns', durationSeconds: 4, channels: 2 });
    const peak = [0, 0];
    for (let offset = 44; offset < stereo.length; offset += 4) {
      peak[0] = Math.max(peak[0] as number, Math.abs(stereo.readInt16LE(offset)));
      peak[1] = Math.max(peak[1] as number, Math.abs(stereo.readInt16LE(offset + 2)));
    }
    expect(peak[0]).toBeGreaterThan(5000);
    expect(peak[1]).toBeGreaterThan(5000);
  });

  it('differs from one recording to the next, and is the same for the same recording', () => {
    const a = wavAudio({ seed: 'RE-a', durationSeconds: 3, channels: 1 });
    const b = wavAudio({ seed: 'RE-b', durationSeconds: 3, channels: 1 });

    expect(a.equals(b)).toBe(false);
    expect(a.equals(wavAudio({ seed: 'RE-a', durationSeconds: 3, channels: 1 }))).toBe(true);
  });

  it('is an MP3 of valid MPEG-2 layer III frames that last the duration', () => {
    const mp3 = mp3Audio({ seed: 'RE-mp3', durationSeconds: 5, channels: 2 });
    const mono = mp3Audio({ seed: 'RE-mp3-mono', durationSeconds: 1, channels: 1 });

    const frames = mpeg2Layer3Frames(mp3);
    expect(frames.end).toBe(mp3.length);
    expect([frames.sampleRate, frames.channels]).toEqual([16_000, 2]);
    expect((frames.count * 576) / frames.sampleRate).toBeCloseTo(5, 1);
    const monoFrames = mpeg2Layer3Frames(mono);
    expect([monoFrames.end, monoFrames.channels]).toEqual([mono.length, 1]);
    expect((monoFrames.count * 576) / monoFrames.sampleRate).toBeCloseTo(1, 1);
    // 32 kbit/s: far above the 50 bytes a second the transfer asks of audio.
    expect(mp3.length / 5).toBeGreaterThan(3500);
  });

  it('is rendered once per recording and format', () => {
    const audio = recordingAudio({ seed: 'RE-cached', durationSeconds: 2, channels: 2 });

    expect(audio.mp3()).toBe(audio.mp3());
    expect(audio.format('wav')).toBe(audio.wav());
  });
});

describe('the simulated Twilio serving it', () => {
  let sim: SimulatedTwilio;
  const auth = `Basic ${Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64')}`;
  const get = async (path: string) => {
    const response = await fetch(`${sim.baseUrl}${path}`, { headers: { authorization: auth } });
    return { type: response.headers.get('content-type'), body: Buffer.from(await response.arrayBuffer()) };
  };

  beforeAll(async () => {
    sim = await SimulatedTwilio.start({ accountSid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN });
  });
  afterAll(() => sim.close());

  it('serves a recording without a given size as audio in the format asked', async () => {
    const recording = sim.addRecording({ duration: 3, channels: 1 });

    const mp3 = await get(sim.recordingPath(recording.sid, 'mp3'));
    const wav = await get(sim.recordingPath(recording.sid, 'wav'));
    const bare = await get(sim.recordingPath(recording.sid, ''));

    expect(mp3.type).toBe('audio/mpeg');
    expect(mpeg2Layer3Frames(mp3.body).end).toBe(mp3.body.length);
    expect(mp3.body.equals(sim.mediaFor(recording.sid, 'mp3'))).toBe(true);
    expect(wav.type).toBe('audio/x-wav');
    expect(wavHeader(wav.body)).toMatchObject({ channels: 1, dataBytes: 48_000 });
    expect(wav.body.equals(recording.media)).toBe(true);
    expect(bare.body.equals(recording.media)).toBe(true);
  });

  it('still serves the given bytes for both formats when a size is given', async () => {
    const recording = sim.addRecording({ size: 500 });

    const mp3 = await get(sim.recordingPath(recording.sid, 'mp3'));

    expect(mp3.body.equals(recording.media)).toBe(true);
    expect(sim.mediaFor(recording.sid, 'mp3').length).toBe(500);
  });
});
