/**
 * Where `npm run export` writes (lib/ops/export-target.ts), against s3rver and the local file
 * system: the vault's own bucket refused, an unusable target found by the probe in one line, and
 * local files owner-only whatever the umask.
 */
import '../../helpers/setup-env';
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { CliError } from '../../../lib/ops/cli';
import { openExportTarget, parseDestination, refuseVaultBucket } from '../../../lib/ops/export-target';
import { type Emulators, RECORDINGS_BUCKET, startEmulators } from '../../helpers/emulators';

let aws: Emulators;
let scratch: string;

beforeAll(async () => {
  aws = await startEmulators();
  scratch = await mkdtemp(join(tmpdir(), 'rv-export-target-'));
});

afterAll(async () => {
  await aws.stop();
  await rm(scratch, { recursive: true, force: true });
});

const open = (out: string) =>
  openExportTarget(parseDestination(out), { s3: aws.s3, vaultBucketName: RECORDINGS_BUCKET });
const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe("the vault's own recordings bucket", () => {
  test.each([
    `s3://${RECORDINGS_BUCKET}`,
    `s3://${RECORDINGS_BUCKET}/exports/t18`,
    `s3://${RECORDINGS_BUCKET}/recordings/2026/12/c`,
  ])('%s is refused in one line, nothing written', async (out) => {
    await expect(open(out)).rejects.toThrow(
      new CliError(
        `--out ${out} is the vault's recordings bucket: a copy there would outlive an erasure; export to another bucket or a directory`,
      ),
    );
    const listed = await aws.s3.send(new ListObjectsV2Command({ Bucket: RECORDINGS_BUCKET }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  test('another bucket and a directory pass the check', () => {
    expect(() => refuseVaultBucket(parseDestination('s3://legal-exports/case-42'), RECORDINGS_BUCKET)).not.toThrow();
    expect(() => refuseVaultBucket(parseDestination('./recordings'), RECORDINGS_BUCKET)).not.toThrow();
  });
});

describe('the probe', () => {
  test('an S3 prefix that can be written: usable, and the marker is gone', async () => {
    const bucket = 'export-probe-ok';
    await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));

    const target = await open(`s3://${bucket}/case/42`);

    expect(target.location).toBe(`s3://${bucket}/case/42/`);
    const listed = await aws.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  test('a bucket that does not exist: one line naming the target and the reason', async () => {
    await expect(open('s3://nosuchbucket-t18/x')).rejects.toThrow(
      /^cannot write to s3:\/\/nosuchbucket-t18\/x\/: NoSuchBucket: /,
    );
  });

  test('directories that cannot be: under /dev/null, a file, under a file', async () => {
    const file = join(scratch, 'a-file');
    await writeFile(file, 'not a directory');

    for (const [out, why] of [
      ['/dev/null/x', /a part of the path is a file, not a directory \(ENOTDIR\)$/],
      [file, /it is a file, not a directory \(EEXIST\)$/],
      [join(file, 'below'), /a part of the path is a file, not a directory \(ENOTDIR\)$/],
    ] as const) {
      const refused = open(out);
      await expect(refused).rejects.toBeInstanceOf(CliError);
      await expect(refused).rejects.toThrow(why);
      await expect(refused).rejects.toThrow(`cannot write to ${out}: `);
    }
  });
});

describe('local files', () => {
  let umask: number;
  beforeAll(() => {
    umask = process.umask(0);
  });
  afterAll(() => {
    process.umask(umask);
  });

  test('the directories it creates are 0700, its files 0600, a leftover .partial does not lend its mode', async () => {
    const parent = join(scratch, 'created');
    const dir = join(parent, 'audit');

    const target = await open(dir);
    await writeFile(join(dir, 'RE1.mp3.partial'), 'left by a killed run', { mode: 0o644 });
    await target.write('RE1.mp3', Readable.from([Buffer.from('audio')]), '');
    await target.writeText('RE1.json', '{}\n');

    expect([await mode(parent), await mode(dir)]).toEqual([0o700, 0o700]);
    expect([await mode(join(dir, 'RE1.mp3')), await mode(join(dir, 'RE1.json'))]).toEqual([0o600, 0o600]);
    expect((await readdir(dir)).sort()).toEqual(['RE1.json', 'RE1.mp3']);
  });

  test('a directory that already exists keeps its mode', async () => {
    const dir = await mkdtemp(join(scratch, 'existing-'));
    await chmod(dir, 0o750);

    await open(dir);

    expect(await mode(dir)).toBe(0o750);
  });
});
