/** Shared by the transfer benchmarks' processes: names, sizes and the stub's byte pattern. */
import { randomBytes } from 'node:crypto';

export const BUCKET = 'recordings';
export const ACCOUNT_SID = `AC${'b'.repeat(32)}`;
export const CALL_SID = `CA${'c'.repeat(32)}`;
/** s3rver's built-in account; using it means the emulator really checks SigV4, as S3 would. */
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** What the stub writes, over and over: 1 MiB of incompressible bytes. */
export const CHUNK = randomBytes(1024 * 1024);

/** `RE` + the size in 16 hex digits + a 16-hex-digit serial: the stub reads the size back. */
export function recordingSidFor(sizeBytes: number, serial: number): string {
  return `RE${sizeBytes.toString(16).padStart(16, '0')}${serial.toString(16).padStart(16, '0')}`;
}

export function sizeFromRecordingSid(sid: string): number | undefined {
  const size = Number.parseInt(sid.slice(2, 18), 16);
  return Number.isSafeInteger(size) ? size : undefined;
}

export type TransferMode = 'product' | 'plain';

export interface TransferRun {
  /** product: createTwilioApi().fetchRecordingAudio + RecordingStore.uploadRecording; plain: http.get + lib-storage Upload. */
  readonly mode: TransferMode;
  readonly sizeBytes: number;
  /** plain only; undefined means lib-storage's defaults (5 MiB, 4). */
  readonly partSize?: number | undefined;
  readonly queueSize?: number | undefined;
}

export interface WorkerTask {
  readonly s3Port: number;
  readonly twilioPort: number;
  readonly warmupBytes: number;
  readonly runs: readonly TransferRun[];
}

export interface RunResult extends TransferRun {
  readonly ms: number;
  readonly mibPerSecond: number;
  readonly storedBytes: number;
  readonly rssBeforeMiB: number;
  /** Peak RSS during the transfer minus RSS just before it (kernel high-water mark and 5 ms samples). */
  readonly peakGrowthMiB: number;
  readonly effectivePartSize: number;
  readonly effectiveQueueSize: number;
}
