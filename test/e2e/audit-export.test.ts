/**
 * `npm run export` and `npm run audit` as an operator runs them (tsx, a child process) against the
 * local stack's emulators: a day's stored recordings copied with their proofs to a directory and
 * to s3://, every hash checked, a run stopped by Ctrl-C resumed without copying anything twice,
 * and every copy (and every `npm run status`) entered in the audit trail under the local user.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { AuditReader } from '../../lambda/shared/audit/audit-trail';
import { dayShardKey, shardOf } from '../../lambda/shared/ledger/index-shards';
import { AUDIT_TABLE_NAME, LEDGER_INDEX_SHARDS } from '../../lib/local/config';
import { type Emulators, LEDGER_TABLE, RECORDINGS_BUCKET, startEmulators } from '../helpers/emulators';
import { type SqsEmulator, startSqsEmulator } from '../helpers/sqs-emulator';
import { type CliRun, operatorEnv, startCli } from './harness';

const QUEUE = 'recording-transfer';
const DLQ = 'recording-transfer-dlq';
const USER = userInfo().username;

let aws: Emulators;
let sqs: SqsEmulator;
const scratch: string[] = [];

beforeAll(async () => {
  [aws, sqs] = await Promise.all([startEmulators(), startSqsEmulator([QUEUE, DLQ])]);
});

afterAll(async () => {
  await Promise.all([aws?.stop(), sqs?.stop()]);
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function localEnv(): NodeJS.ProcessEnv {
  return operatorEnv({ ...aws.env, AWS_ENDPOINT_URL_SQS: sqs.endpoint });
}

function start(script: 'export' | 'audit' | 'status', args: string[]): { child: ChildProcess; done: Promise<CliRun> } {
  return startCli(script, args, localEnv());
}

const run = (script: 'export' | 'audit' | 'status', args: string[]) => start(script, args).done;

const hex = (n: number) => randomBytes(n).toString('hex');
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** A stored recording of `day`: object in S3, ledger item with its SHA-256 (or a wrong one). */
async function storeRecording(
  startedAt: string,
  options: { status?: string; wrongHash?: boolean; size?: number; hold?: boolean } = {},
): Promise<{ recordingSid: string; bytes: Buffer }> {
  const recordingSid = `RE${hex(16)}`;
  const callId = `call-${hex(4)}`;
  const key = `recordings/${startedAt.slice(0, 4)}/${startedAt.slice(5, 7)}/${callId}/${recordingSid}.mp3`;
  const bytes = randomBytes(options.size ?? 2048);
  await aws.s3.send(
    new PutObjectCommand({ Bucket: RECORDINGS_BUCKET, Key: key, Body: bytes, ContentType: 'audio/mpeg' }),
  );
  await aws.ddb.send(
    new PutCommand({
      TableName: LEDGER_TABLE,
      Item: {
        recordingSid,
        callId,
        callSid: `CA${hex(16)}`,
        status: options.status ?? 'stored',
        bucket: RECORDINGS_BUCKET,
        key,
        contentType: 'audio/mpeg',
        sizeBytes: bytes.length,
        sha256: options.wrongHash ? sha256('something else') : sha256(bytes),
        durationSeconds: 12,
        startedAt,
        day: startedAt.slice(0, 10),
        // The local stack's index partition for it (lambda/shared/ledger/index-shards.ts).
        dayShard: dayShardKey(startedAt.slice(0, 10), shardOf(recordingSid, LEDGER_INDEX_SHARDS)),
        storedAt: startedAt,
        ...(options.hold ? { hold: { by: 'legal', at: startedAt, reason: 'case 42' } } : {}),
      },
    }),
  );
  return { recordingSid, bytes };
}

function outDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rv-export-'));
  scratch.push(dir);
  return dir;
}

const trail = () => new AuditReader(aws.ddb, AUDIT_TABLE_NAME);

/** The entries of the export runs (`~export#<today>`) that wrote to `out`. */
async function runEntries(out: string) {
  const runs = await trail().allForRecording(`~export#${new Date().toISOString().slice(0, 10)}`);
  return runs.filter((e) => String(e.details?.out ?? '').startsWith(out));
}

const mode = (path: string) => statSync(path).mode & 0o777;

async function copiedEntries(recordingSid: string) {
  return (await trail().allForRecording(recordingSid)).filter(
    (e) => e.action === 'ops.export' && e.outcome === 'copied',
  );
}

describe('npm run export', () => {
  test("a day's stored recordings with their proofs, a manifest with its own hash, each copy audited", async () => {
    const day = '2025-03-04';
    const stored = [
      await storeRecording(`${day}T09:00:00.000Z`),
      await storeRecording(`${day}T10:00:00.000Z`, { hold: true }),
      await storeRecording(`${day}T23:59:59.000Z`),
    ];
    const erased = await storeRecording(`${day}T11:00:00.000Z`, { status: 'erased' });
    const nextDay = await storeRecording('2025-03-05T00:00:00.000Z');
    const out = outDir();

    const result = await run('export', ['--from', day, '--to', '2025-03-05', '--out', out]);

    expect(result.code).toBe(0);
    const last = result.stdout.trimEnd().split('\n').at(-1) ?? '';
    expect(last).toMatch(
      /^export: 3 recordings: copied 3, already there 0, failed 0, .* MB; manifest .*manifest\.json sha256 [0-9a-f]{64}$/,
    );
    for (const { recordingSid, bytes } of stored) {
      expect(sha256(readFileSync(join(out, `${recordingSid}.mp3`)))).toBe(sha256(bytes));
      const metadata = JSON.parse(readFileSync(join(out, `${recordingSid}.json`), 'utf8'));
      expect(metadata).toMatchObject({
        recordingSid,
        sha256: sha256(bytes),
        sizeBytes: bytes.length,
        encryption: null,
      });
      expect(metadata.ledger).toMatchObject({ status: 'stored', key: expect.any(String) });
      expect(await copiedEntries(recordingSid)).toEqual([
        expect.objectContaining({ actor: USER, kind: 'local', userAgent: expect.stringMatching(/^npm run export/) }),
      ]);
    }
    expect(JSON.parse(readFileSync(join(out, `${stored[1]?.recordingSid}.json`), 'utf8')).hold).toEqual({
      by: 'legal',
      at: `${day}T10:00:00.000Z`,
      reason: 'case 42',
    });
    for (const other of [erased, nextDay]) expect(existsSync(join(out, `${other.recordingSid}.mp3`))).toBe(false);

    const manifest = readFileSync(join(out, 'manifest.json'));
    expect(readFileSync(join(out, 'manifest.json.sha256'), 'utf8')).toBe(`${sha256(manifest)}  manifest.json\n`);
    expect(last).toContain(sha256(manifest));
    const parsed = JSON.parse(manifest.toString('utf8'));
    expect(parsed.recordings.map((r: { recordingSid: string }) => r.recordingSid)).toEqual(
      stored.map((s) => s.recordingSid),
    );
    expect(parsed.exportedBy).toBe(USER);
    for (const entry of parsed.recordings) {
      expect(sha256(readFileSync(join(out, entry.metadataFile)))).toBe(entry.metadataSha256);
    }
    // The run itself: started and finished, with the manifest's hash.
    const runs = await trail().allForRecording(`~export#${new Date().toISOString().slice(0, 10)}`);
    expect(runs.filter((e) => e.actor === USER).map((e) => e.outcome)).toEqual(
      expect.arrayContaining(['started', 'finished']),
    );
    expect(runs.some((e) => e.details?.manifestSha256 === sha256(manifest))).toBe(true);
  });

  test('a copy whose bytes do not match the ledger is not kept, and the run says so (exit 1)', async () => {
    const day = '2025-04-01';
    const good = await storeRecording(`${day}T08:00:00.000Z`);
    const bad = await storeRecording(`${day}T09:00:00.000Z`, { wrongHash: true });
    const out = outDir();

    const result = await run('export', ['--from', day, '--to', '2025-04-02', '--out', out]);

    expect(result.code).toBe(1);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toMatch(
      /^export: 2 recordings: copied 1, already there 0, failed 1/,
    );
    expect(result.stderr).toContain(`${bad.recordingSid} not exported: SHA-256 mismatch`);
    expect(readdirSync(out).filter((f) => f.startsWith(bad.recordingSid))).toEqual([]);
    expect(existsSync(join(out, `${good.recordingSid}.json`))).toBe(true);
    expect(await copiedEntries(bad.recordingSid)).toEqual([]);
  });

  test('resumes where it stopped: what is done is checked, not copied again; a half-written copy is redone', async () => {
    const day = '2025-05-06';
    const stored = [];
    for (let i = 0; i < 3; i++) stored.push(await storeRecording(`${day}T0${i}:00:00.000Z`));
    const out = outDir();
    expect((await run('export', ['--from', day, '--to', '2025-05-07', '--out', out])).code).toBe(0);
    // As an interruption leaves it: the last recording's copy half-written, no .json, no manifest.
    const last = stored[2]?.recordingSid as string;
    unlinkSync(join(out, `${last}.json`));
    writeFileSync(join(out, `${last}.mp3`), 'half');
    unlinkSync(join(out, 'manifest.json'));

    const again = await run('export', ['--from', day, '--to', '2025-05-07', '--out', out]);

    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/export: 3 recordings: copied 1, already there 2, failed 0/);
    expect(sha256(readFileSync(join(out, `${last}.mp3`)))).toBe(sha256(stored[2]?.bytes as Buffer));
    for (const { recordingSid } of stored.slice(0, 2)) expect(await copiedEntries(recordingSid)).toHaveLength(1);
    expect(await copiedEntries(last)).toHaveLength(2);
  });

  test('Ctrl-C stops it; the same command finishes the rest and copies each recording once', async () => {
    const day = '2025-06-07';
    const stored = [];
    for (let i = 0; i < 12; i++) {
      stored.push(await storeRecording(`${day}T${String(i).padStart(2, '0')}:00:00.000Z`, { size: 256 * 1024 }));
    }
    const out = outDir();
    const first = start('export', ['--from', day, '--to', '2025-06-08', '--out', out]);
    // Interrupt once the first recording is copied (the first progress line after the count).
    await new Promise<void>((ready) => {
      first.child.stderr?.on('data', (chunk: Buffer) => {
        if (/export: 1\/12 recordings/.test(chunk.toString('utf8'))) ready();
      });
    });
    first.child.kill('SIGINT');
    const interrupted = await first.done;
    // Stopped part-way (130), or done before the signal arrived (0): the resume below holds either way.
    expect([0, 130]).toContain(interrupted.code);
    if (interrupted.code === 130) {
      expect(interrupted.stderr.trimEnd().split('\n').at(-1)).toMatch(
        /^export: interrupted \(12 recordings in the range: copied \d+, .*\); run it again to resume$/,
      );
      expect((await runEntries(out)).map((e) => e.outcome)).toEqual(['started', 'interrupted']);
    }

    const resumed = await run('export', ['--from', day, '--to', '2025-06-08', '--out', out]);

    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/export: 12 recordings: copied \d+, already there \d+, failed 0/);
    for (const { recordingSid, bytes } of stored) {
      expect(sha256(readFileSync(join(out, `${recordingSid}.mp3`)))).toBe(sha256(bytes));
      expect(await copiedEntries(recordingSid)).toHaveLength(1);
    }
    expect(readdirSync(out).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  test('to s3://bucket/prefix: the copies, their .json and the manifest; a second run copies nothing', async () => {
    const day = '2025-07-08';
    const stored = [await storeRecording(`${day}T12:00:00.000Z`), await storeRecording(`${day}T13:00:00.000Z`)];
    const bucket = `export-${hex(4)}`;
    await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const read = async (key: string) => {
      const object = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return Buffer.from(await (object.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())));
    };

    const result = await run('export', ['--from', day, '--to', '2025-07-09', '--out', `s3://${bucket}/audits/2025-07`]);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`manifest s3://${bucket}/audits/2025-07/manifest\\.json sha256 [0-9a-f]{64}`),
    );
    for (const { recordingSid, bytes } of stored) {
      expect(sha256(await read(`audits/2025-07/${recordingSid}.mp3`))).toBe(sha256(bytes));
      expect(JSON.parse((await read(`audits/2025-07/${recordingSid}.json`)).toString('utf8')).sha256).toBe(
        sha256(bytes),
      );
    }
    const manifest = await read('audits/2025-07/manifest.json');
    expect((await read('audits/2025-07/manifest.json.sha256')).toString('utf8')).toBe(
      `${sha256(manifest)}  manifest.json\n`,
    );

    const again = await run('export', ['--from', day, '--to', '2025-07-09', '--out', `s3://${bucket}/audits/2025-07`]);
    expect(again.stdout).toMatch(/export: 2 recordings: copied 0, already there 2, failed 0/);
  });

  test("refuses the vault's own recordings bucket before anything is read or written", async () => {
    const day = '2025-09-01';
    await storeRecording(`${day}T08:00:00.000Z`);

    for (const out of [`s3://${RECORDINGS_BUCKET}/exports/t18`, `s3://${RECORDINGS_BUCKET}`]) {
      const result = await run('export', ['--from', day, '--to', '2025-09-02', '--out', out]);

      expect(result.code).toBe(1);
      expect(result.stderr.trimEnd().split('\n')).toEqual([
        expect.stringMatching(/^export: --out s3:\/\/recordings\S* is the vault's recordings bucket/),
      ]);
      expect(result.stdout).toBe('');
      expect(await runEntries(`s3://${RECORDINGS_BUCKET}/`)).toEqual([]);
    }
    const listed = await aws.s3.send(new ListObjectsV2Command({ Bucket: RECORDINGS_BUCKET, Prefix: 'exports/' }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  test('an unreachable or unwritable target: one line on stderr, exit 1, before the first recording', async () => {
    const day = '2025-09-02';
    const stored = [await storeRecording(`${day}T08:00:00.000Z`), await storeRecording(`${day}T09:00:00.000Z`)];
    const file = join(outDir(), 'a-file');
    writeFileSync(file, 'not a directory');

    for (const out of ['s3://nosuchbucket-t18/x', '/dev/null/x', file, join(file, 'below')]) {
      const result = await run('export', ['--from', day, '--to', '2025-09-03', '--out', out]);

      expect(result.code).toBe(1);
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines).toEqual([expect.stringMatching(/^export: cannot write to \S+: .+/)]);
      expect(lines[0]).not.toContain(stored[0]?.recordingSid);
      expect(result.stdout).toBe('');
      // No run entry for a target that was never usable (so never a `started` without its end).
      expect(await runEntries(out)).toEqual([]);
    }
  });

  test('files are written 0600 and the directories it creates 0700, whatever the umask', async () => {
    const day = '2025-09-03';
    const { recordingSid } = await storeRecording(`${day}T08:00:00.000Z`);
    const parent = join(outDir(), 'new');
    const out = join(parent, 'audit');

    const result = await run('export', ['--from', day, '--to', '2025-09-04', '--out', out]);

    expect(result.code).toBe(0);
    expect(mode(parent)).toBe(0o700);
    expect(mode(out)).toBe(0o700);
    for (const name of [`${recordingSid}.mp3`, `${recordingSid}.json`, 'manifest.json', 'manifest.json.sha256']) {
      expect([name, mode(join(out, name))]).toEqual([name, 0o600]);
    }
  });

  test('a .json already there is checked against the ledger: a corrupt or stale one is rewritten, no audio copied again', async () => {
    const day = '2025-09-04';
    const plain = await storeRecording(`${day}T08:00:00.000Z`);
    const held = await storeRecording(`${day}T09:00:00.000Z`, { hold: true });
    const third = await storeRecording(`${day}T10:00:00.000Z`);
    const out = outDir();
    expect((await run('export', ['--from', day, '--to', '2025-09-05', '--out', out])).code).toBe(0);
    const untouched = readFileSync(join(out, `${third.recordingSid}.json`), 'utf8');
    // Corrupt: a .json that is not even JSON. Stale: the hold was released since the first run.
    writeFileSync(join(out, `${plain.recordingSid}.json`), '{"garbage"\n');
    await aws.ddb.send(
      new UpdateCommand({
        TableName: LEDGER_TABLE,
        Key: { recordingSid: held.recordingSid },
        UpdateExpression: 'REMOVE #hold',
        ExpressionAttributeNames: { '#hold': 'hold' },
      }),
    );

    const again = await run('export', ['--from', day, '--to', '2025-09-05', '--out', out]);

    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/export: 3 recordings: copied 0, already there 3 \(2 \.json rewritten\), failed 0/);
    const plainJson = JSON.parse(readFileSync(join(out, `${plain.recordingSid}.json`), 'utf8'));
    expect(plainJson).toMatchObject({ recordingSid: plain.recordingSid, sha256: sha256(plain.bytes) });
    expect(JSON.parse(readFileSync(join(out, `${held.recordingSid}.json`), 'utf8')).hold).toBeNull();
    expect(readFileSync(join(out, `${third.recordingSid}.json`), 'utf8')).toBe(untouched);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    for (const entry of manifest.recordings) {
      expect(sha256(readFileSync(join(out, entry.metadataFile)))).toBe(entry.metadataSha256);
      expect(sha256(readFileSync(join(out, entry.file)))).toBe(entry.sha256);
    }
    for (const { recordingSid } of [plain, held, third]) expect(await copiedEntries(recordingSid)).toHaveLength(1);
  });

  test('to s3://: a corrupt .json already there is rewritten, the audio is not copied again', async () => {
    const day = '2025-09-05';
    const stored = await storeRecording(`${day}T08:00:00.000Z`);
    const bucket = `export-${hex(4)}`;
    await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const out = `s3://${bucket}/case`;
    expect((await run('export', ['--from', day, '--to', '2025-09-06', '--out', out])).code).toBe(0);
    await aws.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: `case/${stored.recordingSid}.json`, Body: 'garbage' }),
    );

    const again = await run('export', ['--from', day, '--to', '2025-09-06', '--out', out]);

    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/export: 1 recordings: copied 0, already there 1 \(1 \.json rewritten\), failed 0/);
    const object = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: `case/${stored.recordingSid}.json` }));
    const text = (await object.Body?.transformToString('utf8')) ?? '';
    expect(JSON.parse(text)).toMatchObject({ recordingSid: stored.recordingSid, sha256: sha256(stored.bytes) });
    const manifestObject = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'case/manifest.json' }));
    const manifest = JSON.parse((await manifestObject.Body?.transformToString('utf8')) ?? '');
    expect(manifest.recordings[0].metadataSha256).toBe(sha256(text));
    expect(await copiedEntries(stored.recordingSid)).toHaveLength(1);
  });

  test('SIGTERM stops it like Ctrl-C (exit 143) and the run is entered as interrupted with its counts', async () => {
    const day = '2025-09-06';
    for (let i = 0; i < 24; i++) {
      await storeRecording(`${day}T${String(i).padStart(2, '0')}:00:00.000Z`, { size: 256 * 1024 });
    }
    const out = outDir();
    const first = start('export', ['--from', day, '--to', '2025-09-07', '--out', out]);
    await new Promise<void>((ready) => {
      first.child.stderr?.on('data', (chunk: Buffer) => {
        if (/export: 1\/24 recordings/.test(chunk.toString('utf8'))) ready();
      });
    });
    first.child.kill('SIGTERM');
    const stopped = await first.done;

    // Stopped part-way (143), or done before the signal arrived (0).
    expect([0, 143]).toContain(stopped.code);
    if (stopped.code === 143) {
      expect(stopped.stderr.trimEnd().split('\n').at(-1)).toMatch(
        /^export: interrupted \(24 recordings in the range: copied \d+, .*\); run it again to resume$/,
      );
      const entries = await runEntries(out);
      expect(entries.map((e) => e.outcome)).toEqual(['started', 'interrupted']);
      expect(entries[1]?.details).toMatchObject({
        listed: 24,
        copied: expect.any(Number),
        signal: 'SIGTERM',
      });
    }
  });

  test('bad arguments: one line on stderr, exit 1', async () => {
    for (const [args, pattern] of [
      [['--from', '2025-01-02', '--to', '2025-01-01', '--out', '/tmp/x'], /^export: --from must be before --to$/],
      [
        ['--from', '2025-01-01', '--to', '2025-01-02', '--out', 's3:/nope'],
        /^export: --out "s3:\/nope" is not s3:\/\/bucket\/prefix$/,
      ],
      [['--from', '2025-01-01', '--to', '2025-01-02'], /^export: required option '--out/],
    ] as const) {
      const result = await run('export', [...args]);
      expect(result.code).toBe(1);
      expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(pattern)]);
    }
  });
});

describe('npm run audit', () => {
  test("a recording's trail and an actor's, readable and as JSON; npm run status is entered too", async () => {
    const day = '2025-08-09';
    const { recordingSid } = await storeRecording(`${day}T12:00:00.000Z`);
    expect((await run('export', ['--from', day, '--to', '2025-08-10', '--out', outDir()])).code).toBe(0);
    expect((await run('status', ['--recording', recordingSid])).code).toBe(0);

    const text = await run('audit', ['--recording', recordingSid]);

    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toBe(`audit: 2 entries for ${recordingSid}`);
    expect(lines[0]).toMatch(new RegExp(`^\\S+Z ops\\.export copied by ${USER} \\(local\\) from npm run export`));
    expect(lines[1]).toMatch(new RegExp(`^\\S+Z ops\\.status shown by ${USER} \\(local\\)`));

    const json = await run('audit', ['--actor', USER, '--json']);
    expect(json.code).toBe(0);
    const entries = (JSON.parse(json.stdout) as { entries: Array<{ recordingSid: string; action: string }> }).entries;
    expect(entries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ recordingSid, action: 'ops.export' }),
        expect.objectContaining({ recordingSid, action: 'ops.status' }),
      ]),
    );
  });

  test('bad arguments: one line on stderr, exit 1', async () => {
    for (const [args, pattern] of [
      [[], /^audit: give either --recording <RecordingSid> or --actor <actor>$/],
      [['--recording', 'RE1'], /^audit: --recording must be a RecordingSid/],
      [['--actor', 'x', '--from', '2025-02-01', '--to', '2025-01-01'], /^audit: --from must be before --to$/],
    ] as const) {
      const result = await run('audit', [...args]);
      expect(result.code).toBe(1);
      expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(pattern)]);
    }
  });
});
