/**
 * Child process for the transfer benchmarks: an S3 emulator (s3rver, data on tmpfs when the
 * machine has one) and a stub Twilio that serves recordings of any size at full speed.
 * Kept out of the measured process so that its memory and CPU never count as the transfer's.
 *
 * The stub answers `GET /2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}.{mp3|wav}`;
 * the recording's size in bytes is the first 16 hex digits after `RE` (see recordingSidFor).
 * Reports `{ s3Port, twilioPort, s3Directory }` over IPC once both listen.
 */
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUCKET, CHUNK, sizeFromRecordingSid } from './transfer-common';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
// s3rver ships no types.
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => S3rverInstance;

function stubTwilio(): Server {
  return createServer((req, res) => {
    const match = /^\/2010-04-01\/Accounts\/AC[0-9a-f]{32}\/Recordings\/(RE[0-9a-f]{32})\.(mp3|wav)$/.exec(
      req.url ?? '',
    );
    const size = match?.[1] ? sizeFromRecordingSid(match[1]) : undefined;
    if (req.method !== 'GET' || size === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': match?.[2] === 'wav' ? 'audio/x-wav' : 'audio/mpeg',
      'content-length': String(size),
    });
    let left = size;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, CHUNK.length);
        left -= n;
        const more = res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
        if (!more) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
}

/**
 * s3rver keeps objects as files: on tmpfs (/dev/shm) the disk is out of both the product's and
 * the baseline's figures. A 1 GiB upload needs about 2.5 GiB there (parts, then the object);
 * a small /dev/shm (containers default to 64 MiB) falls back to the temp directory.
 */
function dataDirectory(): string {
  const shm = '/dev/shm';
  try {
    const fs = statfsSync(shm);
    if (fs.bavail * fs.bsize >= 3 * 1024 ** 3) return shm;
  } catch {
    // no /dev/shm (macOS, Windows)
  }
  return tmpdir();
}

async function main(): Promise<void> {
  const base = process.env.BENCH_S3_DIR ?? dataDirectory();
  const directory = mkdtempSync(join(base, 'rv-bench-s3-'));
  const s3 = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: BUCKET, configs: [] }],
  });
  const s3Address = await s3.run();
  const twilio = stubTwilio();
  await new Promise<void>((resolve) => twilio.listen(0, '127.0.0.1', resolve));
  const cleanup = (): void => {
    rmSync(directory, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  process.on('SIGTERM', () => process.exit(0));
  process.on('disconnect', () => process.exit(0));
  process.send?.({
    s3Port: s3Address.port,
    twilioPort: (twilio.address() as AddressInfo).port,
    s3Directory: directory,
  });
}

main().catch((error: unknown) => {
  console.error('transfer servers failed:', error);
  process.exit(1);
});
