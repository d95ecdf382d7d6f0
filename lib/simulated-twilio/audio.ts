/**
 * Real audio for the simulated Twilio's recordings: a short sequence of tones, different for each
 * recording (derived from a seed, its RecordingSid), of the recording's duration and channels, as
 * Twilio serves it: WAV (PCM 16-bit, 8 kHz) and MP3 (MPEG-2 layer III, 16 kHz, 32 kbit/s).
 * A 2-channel recording takes turns like a conversation: one channel speaks, then the other.
 * The tones form a phrase of a few seconds, repeated to the duration (so that MP3 is encoded once
 * per phrase, not per second). Each rendering is made once per (seed, duration, channels, format)
 * and cached.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { runInThisContext } from 'node:vm';

export type AudioFormat = 'wav' | 'mp3';

export interface AudioSpec {
  /** Picks the tones: the same seed always gives the same audio. */
  readonly seed: string;
  /** Whole or fractional seconds; the audio lasts exactly this long (MP3: to the frame). */
  readonly durationSeconds: number;
  readonly channels: 1 | 2;
}

export const WAV_SAMPLE_RATE = 8_000;
export const MP3_SAMPLE_RATE = 16_000;
export const MP3_KBPS = 32;

/** A recording's media in both formats, each rendered on first use. */
export interface RecordingAudio {
  wav(): Buffer;
  mp3(): Buffer;
  format(format: AudioFormat): Buffer;
}

/** Semitones of a major pentatonic scale over two octaves from A3 (220 Hz). */
const SCALE = [0, 2, 4, 7, 9, 12, 14, 16, 19, 21];
const AMPLITUDE = 0.3;
const FADE_SECONDS = 0.01;
/** The tone phrase repeated through a recording: encoding MP3 in JavaScript is slow (~15x real time). */
const PHRASE_SECONDS = 2;

interface Tone {
  readonly start: number;
  readonly end: number;
  readonly frequency: number;
  readonly channel: 0 | 1;
}

/** Deterministic bytes from the seed: sha256(seed:n) blocks. */
function randomStream(seed: string): () => number {
  let block = Buffer.alloc(0);
  let offset = 0;
  let counter = 0;
  return () => {
    if (offset >= block.length) {
      block = createHash('sha256').update(`${seed}:${counter++}`).digest();
      offset = 0;
    }
    return (block[offset++] as number) / 256;
  };
}

/**
 * The recording's phrase: turns of notes with short pauses, channel 0 and 1 alternating (mono: all
 * on 0), PHRASE_SECONDS long at most. The recording repeats it to its duration.
 */
function tones({ seed, durationSeconds, channels }: AudioSpec): Tone[] {
  const next = randomStream(seed);
  const base = 220 * 2 ** Math.floor(next() * 2);
  const phrase = phraseSeconds(durationSeconds);
  const result: Tone[] = [];
  let at = 0.05;
  let channel: 0 | 1 = 0;
  while (at < phrase - 0.1) {
    const notes = 2 + Math.floor(next() * 3);
    for (let i = 0; i < notes && at < phrase - 0.1; i++) {
      const length = 0.1 + next() * 0.2;
      const step = SCALE[Math.floor(next() * SCALE.length)] as number;
      result.push({
        start: at,
        end: Math.min(at + length, phrase - 0.05),
        frequency: base * 2 ** (step / 12),
        channel,
      });
      at += length + 0.03;
    }
    at += 0.1 + next() * 0.2;
    if (channels === 2) channel = channel === 0 ? 1 : 0;
  }
  return result;
}

const phraseSeconds = (durationSeconds: number) => Math.min(durationSeconds, PHRASE_SECONDS);

/** 16-bit samples, one array per channel: the phrase, repeated to the duration. */
function render(spec: AudioSpec, sampleRate: number): Int16Array[] {
  const frames = Math.round(spec.durationSeconds * sampleRate);
  const period = Math.max(1, Math.round(phraseSeconds(spec.durationSeconds) * sampleRate));
  const out = Array.from({ length: spec.channels }, () => new Int16Array(frames));
  for (const tone of tones(spec)) {
    const target = out[spec.channels === 2 ? tone.channel : 0] as Int16Array;
    const first = Math.round(tone.start * sampleRate);
    const last = Math.min(period, Math.round(tone.end * sampleRate));
    const fade = Math.max(1, Math.round(FADE_SECONDS * sampleRate));
    const omega = (2 * Math.PI * tone.frequency) / sampleRate;
    for (let n = first; n < last; n++) {
      const envelope = Math.min(1, (n - first) / fade, (last - n) / fade);
      target[n] = Math.round(AMPLITUDE * envelope * Math.sin(omega * (n - first)) * 32767);
    }
  }
  for (const channel of out) {
    for (let n = period; n < frames; n += period) channel.copyWithin(n, 0, Math.min(period, frames - n));
  }
  return out;
}

/** RIFF/WAVE, PCM 16-bit little-endian at WAV_SAMPLE_RATE. */
export function wavAudio(spec: AudioSpec): Buffer {
  const channels = render(spec, WAV_SAMPLE_RATE);
  const frames = channels[0]?.length ?? 0;
  const blockAlign = spec.channels * 2;
  const dataBytes = frames * blockAlign;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(spec.channels, 22);
  out.writeUInt32LE(WAV_SAMPLE_RATE, 24);
  out.writeUInt32LE(WAV_SAMPLE_RATE * blockAlign, 28);
  out.writeUInt16LE(blockAlign, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataBytes, 40);
  let offset = 44;
  for (let n = 0; n < frames; n++) {
    for (const channel of channels) {
      out.writeInt16LE(channel[n] as number, offset);
      offset += 2;
    }
  }
  return out;
}

interface Mp3Encoder {
  encodeBuffer(left: Int16Array, right?: Int16Array): ArrayLike<number> & ArrayBufferView;
  flush(): ArrayLike<number> & ArrayBufferView;
}
type Mp3EncoderClass = new (channels: number, sampleRate: number, kbps: number) => Mp3Encoder;

let encoderClass: Mp3EncoderClass | undefined;

/**
 * `@breezystack/lamejs` (the maintained fork of lamejs): its `require` entry is a browser IIFE
 * that only declares `var lamejs`, and its ESM entry cannot be required from this CommonJS code
 * (ts-jest, tsx). So the IIFE is evaluated once here, in a function scope, and its value taken.
 */
function lameEncoder(): Mp3EncoderClass {
  if (!encoderClass) {
    const file = require.resolve('@breezystack/lamejs');
    const lamejs = runInThisContext(`(function () {\n${readFileSync(file, 'utf8')}\nreturn lamejs;\n})()`, {
      filename: file,
    }) as { Mp3Encoder: Mp3EncoderClass };
    encoderClass = lamejs.Mp3Encoder;
  }
  return encoderClass;
}

const toBuffer = (chunk: ArrayBufferView) => Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);

/** One MPEG audio frame header: where the frame is, its length, and what it holds. */
export interface Mp3Frame {
  readonly offset: number;
  readonly length: number;
  readonly sampleRate: number;
  readonly kbps: number;
  readonly channels: 1 | 2;
  readonly samples: number;
}

const MP3_BITRATES_V2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const MP3_BITRATES_V1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const MP3_RATES: Record<number, number[]> = {
  3: [44100, 48000, 32000],
  2: [22050, 24000, 16000],
  0: [11025, 12000, 8000],
};

/** The layer III frames of an MP3 stream, in order; stops at the first byte that is not a frame. */
export function mp3Frames(bytes: Buffer): Mp3Frame[] {
  const frames: Mp3Frame[] = [];
  let offset = 0;
  while (offset + 4 <= bytes.length) {
    const header = bytes.readUInt32BE(offset);
    const version = (header >>> 19) & 3;
    const layer = (header >>> 17) & 3;
    const bitrateIndex = (header >>> 12) & 15;
    const rateIndex = (header >>> 10) & 3;
    if (header >>> 21 !== 0x7ff || version === 1 || layer !== 1 || bitrateIndex === 0 || bitrateIndex === 15) break;
    const sampleRate = MP3_RATES[version]?.[rateIndex];
    if (sampleRate === undefined) break;
    const kbps = (version === 3 ? MP3_BITRATES_V1 : MP3_BITRATES_V2)[bitrateIndex] as number;
    const samples = version === 3 ? 1152 : 576;
    const padding = (header >>> 9) & 1;
    const length = Math.floor(((samples / 8) * kbps * 1000) / sampleRate) + padding;
    if (offset + length > bytes.length) break;
    frames.push({ offset, length, sampleRate, kbps, channels: ((header >>> 6) & 3) === 3 ? 1 : 2, samples });
    offset += length;
  }
  return frames;
}

/** The phrase encoded once by LAME. */
function encodePhrase(spec: AudioSpec): Buffer {
  const phrase = { ...spec, durationSeconds: phraseSeconds(spec.durationSeconds) };
  const [left, right] = render(phrase, MP3_SAMPLE_RATE) as [Int16Array, Int16Array | undefined];
  const Encoder = lameEncoder();
  const encoder = new Encoder(spec.channels, MP3_SAMPLE_RATE, MP3_KBPS);
  const chunks: Buffer[] = [];
  const block = 576 * 16;
  for (let at = 0; at < left.length; at += block) {
    const l = left.subarray(at, at + block);
    const chunk = right ? encoder.encodeBuffer(l, right.subarray(at, at + block)) : encoder.encodeBuffer(l);
    if (chunk.byteLength > 0) chunks.push(Buffer.from(toBuffer(chunk)));
  }
  chunks.push(Buffer.from(toBuffer(encoder.flush())));
  return Buffer.concat(chunks);
}

/**
 * MPEG-2 layer III at MP3_SAMPLE_RATE and MP3_KBPS (constant bit rate, no tag frame): the phrase
 * encoded once, its frames repeated to the duration. The first frame of a LAME stream uses no bit
 * reservoir, so each repetition decodes as the first did.
 */
export function mp3Audio(spec: AudioSpec): Buffer {
  const phrase = encodePhrase(spec);
  const frames = mp3Frames(phrase);
  const wanted = Math.max(1, Math.round((spec.durationSeconds * MP3_SAMPLE_RATE) / 576));
  const parts: Buffer[] = [];
  for (let i = 0; i < wanted && frames.length > 0; i++) {
    const frame = frames[i % frames.length] as Mp3Frame;
    parts.push(phrase.subarray(frame.offset, frame.offset + frame.length));
  }
  return Buffer.concat(parts);
}

const cache = new Map<string, Buffer>();
const CACHE_LIMIT = 256;

function cached(format: AudioFormat, spec: AudioSpec): Buffer {
  const key = `${format}:${spec.channels}:${spec.durationSeconds}:${spec.seed}`;
  let bytes = cache.get(key);
  if (!bytes) {
    bytes = format === 'wav' ? wavAudio(spec) : mp3Audio(spec);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(key, bytes);
  }
  return bytes;
}

/** A recording's audio in both formats, each rendered on first use and cached. */
export function recordingAudio(spec: AudioSpec): RecordingAudio {
  return {
    wav: () => cached('wav', spec),
    mp3: () => cached('mp3', spec),
    format: (format) => cached(format, spec),
  };
}
