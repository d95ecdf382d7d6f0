import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { download, freePort, LocalProcess, REPO_ROOT, waitFor } from './harness';

/**
 * `npm run demo` as a newcomer runs it: nothing but the repository, no Twilio account. It must
 * print a working playback URL for every recording it stored (including the one only the
 * reconciler found, and the conference recording that names no call) and stop cleanly on Ctrl-C.
 */

let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'recording-vault-demo-'));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

function demoEnv(ports: Record<string, number>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('AWS_') || name.startsWith('TWILIO_') || name.startsWith('JEST_') || name === 'NODE_OPTIONS')
      continue;
    env[name] = value;
  }
  return {
    ...env,
    PORT: String(ports.api),
    DYNAMODB_PORT: String(ports.dynamodb),
    S3_PORT: String(ports.s3),
    SQS_PORT: String(ports.sqs),
    LOCAL_DATA_DIR: dataDir,
    RECONCILE_INTERVAL_SECONDS: '2',
    FORCE_COLOR: '0',
  };
}

/** Runs a command line the demo printed, in a shell at the repository root, as a newcomer would paste it. */
function runPrinted(command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_') && !name.startsWith('JEST_') && name !== 'NODE_OPTIONS') env[name] = value;
  }
  return new Promise((done, fail) => {
    const child = spawn('sh', ['-c', command], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.once('error', fail);
    child.once('exit', (code) => done({ code, stdout, stderr }));
  });
}

/** Starts the demo on free ports; a port taken in the meantime by another process means a new set. */
async function startDemo(): Promise<LocalProcess> {
  for (let attempt = 1; ; attempt++) {
    const ports = { api: await freePort(), dynamodb: await freePort(), s3: await freePort(), sqs: await freePort() };
    const demo = new LocalProcess(
      spawn(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['bin/demo.ts'], {
        cwd: REPO_ROOT,
        env: demoEnv(ports),
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    const state = await waitFor(
      'the demo to say it is ready, or to exit',
      () => (/demo ready/.test(demo.text()) ? 'ready' : demo.exitStatus ? 'exited' : undefined),
      { timeoutMs: 150_000, intervalMs: 200 },
      () => demo.tail(),
    ).catch((error: unknown) => {
      demo.signalGroup('SIGKILL');
      throw error;
    });
    if (state === 'ready') return demo;
    if (!/is busy/.test(demo.text()) || attempt >= 3) {
      throw new Error(`the demo exited early: ${JSON.stringify(demo.exitStatus)}\n${demo.tail()}`);
    }
  }
}

test('npm run demo stores every call’s recording, prints playback URLs that serve the audio and a decrypt command that gives the encrypted one back as WAV, and stops on Ctrl-C', async () => {
  const demo = await startDemo();
  try {
    const output = demo.text();
    const stored = [...output.matchAll(/stored (\d+) B, .*\n\s*play: (http\S+)/g)].map((m) => ({
      size: Number(m[1]),
      url: m[2] as string,
    }));
    expect(stored).toHaveLength(4);
    expect(output).toMatch(/origin reconciler/);
    const conferenceUrl =
      /conference {2}RE\w+ {2}called back; conference CF\w+, two channels, no CallSid\n\s*stored \d+ B.*\n\s*play: (http\S+)/.exec(
        output,
      )?.[1];
    expect(conferenceUrl).toBeDefined();
    // Its MPEG frames are two-channel (channel mode 3 is mono): the vault kept both channels, not the mix.
    expect((await download(conferenceUrl as string)).bytes.readUInt8(3) >> 6).not.toBe(3);
    expect(output).toMatch(/absent/);
    for (const { size, url } of stored) {
      const played = await download(url);
      expect(played.status).toBe(200);
      expect(played.contentType).toBe('audio/mpeg');
      expect(played.bytes.length).toBe(size);
      // An MPEG audio frame header, not random bytes: the demo plays.
      expect(played.bytes.readUInt16BE(0) & 0xffe0).toBe(0xffe0);
    }

    // The encrypted call: its key pair is under the data directory, and the printed command decrypts it.
    const command = /encrypted by Twilio for public key CR\w+; decrypt it with:\n\s*(.*npm run decrypt -- .*)/.exec(
      output,
    )?.[1];
    expect(command).toMatch(/--private-key \S*keys\/private_key\.pem --out \S+\.wav$/);
    const decrypted = await runPrinted(command as string);
    expect(decrypted.stderr).toBe('');
    expect(decrypted.code).toBe(0);
    const wav = await readFile(join(dataDir, `${/--recording (RE\w+)/.exec(command as string)?.[1]}.wav`));
    expect(wav.subarray(0, 4).toString('latin1')).toBe('RIFF');
    expect(wav.subarray(8, 12).toString('latin1')).toBe('WAVE');
    expect(wav.readUInt32LE(4) + 8).toBe(wav.length);

    // The printed status hint, pasted into another terminal with a RecordingSid: it finds the demo's emulators.
    const statusHint = /^\s*(.*npm run status -- --recording )RE…$/m.exec(output)?.[1];
    expect(statusHint).toMatch(/^DYNAMODB_PORT=\d+ S3_PORT=\d+ SQS_PORT=\d+ npm run status/);
    const recordingSid = /--recording (RE\w+)/.exec(command as string)?.[1] as string;
    const status = await runPrinted(`${statusHint}${recordingSid}`);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(recordingSid);

    demo.child.kill('SIGINT');
    const exit = await demo.waitExit(30_000);
    expect(exit).toEqual({ code: 0, signal: null });
  } finally {
    demo.signalGroup('SIGKILL');
  }
}, 240_000);
