/**
 * The measured process of the transfer benchmarks. Receives a WorkerTask over IPC, warms up
 * (loads the SDK, JIT), then runs each transfer in turn and reports time and peak RSS growth.
 *
 * - product: what the transfer Lambda does, `createTwilioApi().fetchRecordingAudio` streamed
 *   into `RecordingStore.uploadRecording` (lambda/shared, with its UPLOAD_PART_SIZE/QUEUE_SIZE).
 * - plain: the baseline, `http.get` of the same stub URL piped as the Body of a plain
 *   `@aws-sdk/lib-storage` `Upload` to the same S3 endpoint (defaults, or the given tuning).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { DeleteObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { clientOverrides } from '../../../lambda/shared/runtime/endpoints';
import { RecordingStore } from '../../../lambda/shared/storage/recording-store';
import { UPLOAD_PART_SIZE, UPLOAD_QUEUE_SIZE } from '../../../lambda/shared/storage/recording-upload';
import { createTwilioApi } from '../../../lambda/shared/twilio/rest-api';
import { staticTokens } from '../../../lambda/shared/twilio/signature';
import {
  ACCOUNT_SID,
  BUCKET,
  CALL_SID,
  type RunResult,
  recordingSidFor,
  S3_CREDENTIALS,
  type TransferRun,
  type WorkerTask,
} from './transfer-common';

const MiB = 1024 * 1024;
const LIB_STORAGE_DEFAULT_PART_SIZE = 5 * MiB;
const LIB_STORAGE_DEFAULT_QUEUE_SIZE = 4;
const AUTH_TOKEN = 'bench-auth-token';

function vmHwmBytes(): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return match?.[1] ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Resets the kernel's peak-RSS counter (Linux ≥ 4.0); sampling alone is the fallback. */
function resetHwm(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // not Linux, or not allowed: the 5 ms samples still bound the peak from below
  }
}

async function settle(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function main(task: WorkerTask): Promise<RunResult[]> {
  const s3 = new S3Client({
    ...clientOverrides('S3', {
      AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${task.s3Port}`,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
    }),
    credentials: { ...S3_CREDENTIALS },
  });
  const twilioBase = `http://127.0.0.1:${task.twilioPort}`;
  const twilio = createTwilioApi({ baseUrl: twilioBase, accountSid: ACCOUNT_SID, tokens: staticTokens(AUTH_TOKEN) });
  const store = new RecordingStore(s3, BUCKET);
  const authorization = `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`;
  let serial = 0;

  async function transfer(run: TransferRun): Promise<{ key: string; reported: number }> {
    const sid = recordingSidFor(run.sizeBytes, ++serial);
    const key = `recordings/bench/${process.pid}/${sid}.mp3`;
    if (run.mode === 'product') {
      const media = await twilio.fetchRecordingAudio(sid, 'mp3');
      const { sizeBytes } = await store.uploadRecording(key, media.body, {
        contentType: media.contentType,
        metadata: { 'call-sid': CALL_SID, 'recording-sid': sid },
      });
      return { key, reported: sizeBytes };
    }
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      get(
        `${twilioBase}/2010-04-01/Accounts/${ACCOUNT_SID}/Recordings/${sid}.mp3`,
        { headers: { authorization } },
        resolve,
      ).on('error', reject);
    });
    const upload = new Upload({
      client: s3,
      ...(run.partSize === undefined ? {} : { partSize: run.partSize }),
      ...(run.queueSize === undefined ? {} : { queueSize: run.queueSize }),
      params: { Bucket: BUCKET, Key: key, Body: response, ContentType: 'audio/mpeg' },
    });
    await upload.done();
    return { key, reported: run.sizeBytes };
  }

  async function verifyAndDelete(key: string): Promise<number> {
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    return head.ContentLength ?? -1;
  }

  // Warm-up: load every module on both paths and let the JIT see them.
  for (const mode of ['product', 'plain'] as const) {
    const { key } = await transfer({ mode, sizeBytes: task.warmupBytes });
    await verifyAndDelete(key);
  }

  const results: RunResult[] = [];
  for (const run of task.runs) {
    await settle();
    resetHwm();
    const rssBefore = process.memoryUsage.rss();
    let sampledPeak = rssBefore;
    const sampler = setInterval(() => {
      const rss = process.memoryUsage.rss();
      if (rss > sampledPeak) sampledPeak = rss;
    }, 5);
    const started = process.hrtime.bigint();
    const { key, reported } = await transfer(run);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    clearInterval(sampler);
    const peak = Math.max(sampledPeak, vmHwmBytes() ?? 0, process.memoryUsage.rss());
    const storedBytes = await verifyAndDelete(key);
    if (storedBytes !== run.sizeBytes || reported !== run.sizeBytes) {
      throw new Error(`${run.mode}: stored ${storedBytes} / reported ${reported} bytes, expected ${run.sizeBytes}`);
    }
    results.push({
      ...run,
      ms,
      mibPerSecond: run.sizeBytes / MiB / (ms / 1000),
      storedBytes,
      rssBeforeMiB: rssBefore / MiB,
      peakGrowthMiB: (peak - rssBefore) / MiB,
      effectivePartSize: run.mode === 'product' ? UPLOAD_PART_SIZE : (run.partSize ?? LIB_STORAGE_DEFAULT_PART_SIZE),
      effectiveQueueSize:
        run.mode === 'product' ? UPLOAD_QUEUE_SIZE : (run.queueSize ?? LIB_STORAGE_DEFAULT_QUEUE_SIZE),
    });
  }
  s3.destroy();
  return results;
}

process.once('message', (task: WorkerTask) => {
  main(task)
    .then((results) => {
      process.send?.({ results }, () => process.exit(0));
    })
    .catch((error: unknown) => {
      process.send?.({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, () =>
        process.exit(1),
      );
    });
});
