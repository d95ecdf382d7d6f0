/** Stage configuration: cdk.json's stages parse, and bad values fail with clear messages. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { loadStageConfig, parseStageConfig, StageConfigError, selectStageConfig } from '../../lib/config';

const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as {
  app: string;
  context: { stages: Record<string, Record<string, unknown>> } & Record<string, unknown>;
};
const stages = cdkJson.context.stages;
const SID = `AC${'0'.repeat(32)}`;

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof StageConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a StageConfigError');
}

describe('cdk.json', () => {
  test('runs the app with tsx and ships dev and prod stages that parse', () => {
    expect(cdkJson.app).toBe('npx tsx bin/app.ts');
    expect(Object.keys(stages).sort()).toEqual(['dev', 'prod']);
    const dev = selectStageConfig(stages, 'dev');
    const prod = selectStageConfig(stages, 'prod');
    expect(prod.removalPolicy).toBe('retain');
    expect(prod.bucketVersioning).toBe(true);
    expect(dev.removalPolicy).toBe('destroy');
    // The placeholder SID is clearly fake: operators replace it.
    expect(dev.twilioAccountSid).toBe(SID);
  });

  test('-c stage selects the stage; default is dev', () => {
    expect(loadStageConfig(new App({ context: { stages } }).node).name).toBe('dev');
    expect(loadStageConfig(new App({ context: { stages, stage: 'prod' } }).node).name).toBe('prod');
  });
});

describe('defaults', () => {
  test('only the account SID is required', () => {
    const c = parseStageConfig('test', { twilioAccountSid: SID });
    expect(c).toMatchObject({
      twilioApiBaseUrl: 'https://api.twilio.com',
      removalPolicy: 'retain',
      playbackUrlTtlSeconds: 900,
      recordingFormat: 'mp3',
      deleteFromTwilioAfterCopy: false,
      playbackAuth: { type: 'iam' },
      transfer: { maxAttempts: 5, retryBaseSeconds: 30, timeoutSeconds: 300, memoryMb: 512, maxConcurrency: 50 },
      bucketVersioning: true,
    });
    expect(c.alarmEmail).toBeUndefined();
    expect(c.twilioSecretName).toBeUndefined();
  });

  test('jwt auth (issuer kept exactly: it must equal the iss claim), trailing slash stripped from the base URL', () => {
    const c = parseStageConfig('test', {
      twilioAccountSid: SID,
      playbackAuth: { type: 'jwt', issuer: 'https://issuer.example.com/', audience: ['a', 'b'] },
      publicWebhookBaseUrl: 'https://hooks.example.com/base/',
    });
    expect(c.playbackAuth).toEqual({ type: 'jwt', issuer: 'https://issuer.example.com/', audience: ['a', 'b'] });
    expect(c.publicWebhookBaseUrl).toBe('https://hooks.example.com/base');
  });
});

describe('errors', () => {
  test('unknown stage lists the known ones', () => {
    expect(() => selectStageConfig(stages, 'staging')).toThrow(/unknown stage; known stages: dev, prod/);
    expect(() => loadStageConfig(new App({ context: { stages, stage: 'nope' } }).node)).toThrow(StageConfigError);
  });

  test('missing stages object', () => {
    expect(() => selectStageConfig(undefined, 'dev')).toThrow(/no "stages"/);
  });

  test('bad account SID', () => {
    expect(problemsOf(() => parseStageConfig('x', { twilioAccountSid: 'AC123' }))).toEqual([
      expect.stringMatching(/^twilioAccountSid must be a Twilio Account SID/),
    ]);
    expect(problemsOf(() => parseStageConfig('x', {}))).toEqual(['twilioAccountSid is required']);
  });

  test('playback URL TTL above 3600 s', () => {
    expect(problemsOf(() => parseStageConfig('x', { twilioAccountSid: SID, playbackUrlTtlSeconds: 3601 }))).toEqual([
      expect.stringMatching(/^playbackUrlTtlSeconds must be a whole number from 1 to 3600/),
    ]);
  });

  test('every problem is reported at once', () => {
    const problems = problemsOf(() =>
      parseStageConfig('x', {
        twilioAccountSid: 'nope',
        removalPolicy: 'snapshot',
        logRetentionDays: 10,
        recordingFormat: 'ogg',
        playbackAuth: { type: 'jwt', audience: [] },
        alarmEmail: 'not-an-email',
        publicWebhookBaseUrl: 'http://insecure.example.com',
        twilioApiBaseUrl: 'ftp://api.twilio.com',
        transfer: { maxAttempts: 0, timeoutSeconds: 901 },
        lifecycle: { infrequentAccessAfterDays: 10, expireAfterDays: 5 },
      }),
    );
    const text = problems.join('\n');
    for (const field of [
      'twilioAccountSid',
      'removalPolicy',
      'logRetentionDays',
      'recordingFormat',
      'playbackAuth.issuer',
      'playbackAuth.audience',
      'alarmEmail',
      'publicWebhookBaseUrl',
      'twilioApiBaseUrl',
      'transfer.maxAttempts',
      'transfer.timeoutSeconds',
      'lifecycle.infrequentAccessAfterDays',
    ]) {
      expect(text).toContain(field);
    }
  });
});
