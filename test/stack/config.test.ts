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
      'lifecycle.expireAfterDays',
    ]) {
      expect(text).toContain(field);
    }
  });
});

describe('ledger.indexShards', () => {
  test('defaults to 8; cdk.json gives dev 2 and prod 8', () => {
    expect(parseStageConfig('test', { twilioAccountSid: SID }).ledger).toEqual({ indexShards: 8 });
    expect(selectStageConfig(stages, 'dev').ledger.indexShards).toBe(2);
    expect(selectStageConfig(stages, 'prod').ledger.indexShards).toBe(8);
  });

  test.each([0, 65, 2.5, '8'])('%p is refused with its path', (indexShards) => {
    expect(problemsOf(() => parseStageConfig('x', { twilioAccountSid: SID, ledger: { indexShards } }))).toEqual([
      expect.stringMatching(/^ledger\.indexShards must be a whole number from 1 to 64/),
    ]);
  });
});

describe('compliance and operations fields', () => {
  test('defaults: SSE-S3, no Object Lock, reconcile every 15 min, alarm thresholds', () => {
    const c = parseStageConfig('test', { twilioAccountSid: SID });
    expect(c.encryption).toBe('s3-managed');
    expect(c.objectLock).toBeUndefined();
    expect(c.reconcile).toEqual({ intervalMinutes: 15, lookbackMinutes: 120, settleMinutes: 5 });
    expect(c.alarms).toEqual({ oldestJobAgeSeconds: 900, rejectedCallbacksPerPeriod: 20 });
  });

  test('cdk.json: prod ships with a customer-managed key, dev with SSE-S3', () => {
    expect(selectStageConfig(stages, 'prod').encryption).toBe('kms');
    expect(selectStageConfig(stages, 'dev').encryption).toBe('s3-managed');
  });

  test('values are taken as given; a section given in part keeps the other defaults', () => {
    const c = parseStageConfig('test', {
      twilioAccountSid: SID,
      encryption: 'kms',
      objectLock: { mode: 'COMPLIANCE', retentionDays: 2557 },
      reconcile: { intervalMinutes: 0 },
      alarms: { rejectedCallbacksPerPeriod: 5 },
    });
    expect(c.encryption).toBe('kms');
    expect(c.objectLock).toEqual({ mode: 'COMPLIANCE', retentionDays: 2557 });
    expect(c.reconcile).toEqual({ intervalMinutes: 0, lookbackMinutes: 120, settleMinutes: 5 });
    expect(c.alarms).toEqual({ oldestJobAgeSeconds: 900, rejectedCallbacksPerPeriod: 5 });
    const governance = parseStageConfig('test', {
      twilioAccountSid: SID,
      bucketVersioning: true,
      objectLock: { mode: 'GOVERNANCE', retentionDays: 1 },
    });
    expect(governance.objectLock).toEqual({ mode: 'GOVERNANCE', retentionDays: 1 });
  });

  test('null means "not set", as a missing key does', () => {
    const c = parseStageConfig('test', {
      twilioAccountSid: SID,
      alarmEmail: null,
      objectLock: null,
      reconcile: { intervalMinutes: null, settleMinutes: 10 },
    });
    expect(c.alarmEmail).toBeUndefined();
    expect(c.objectLock).toBeUndefined();
    expect(c.reconcile).toEqual({ intervalMinutes: 15, lookbackMinutes: 120, settleMinutes: 10 });
  });

  test('Object Lock without versioning is refused, naming both fields', () => {
    expect(
      problemsOf(() =>
        parseStageConfig('x', {
          twilioAccountSid: SID,
          bucketVersioning: false,
          objectLock: { mode: 'GOVERNANCE', retentionDays: 30 },
        }),
      ),
    ).toEqual([expect.stringMatching(/^objectLock requires bucketVersioning: true/)]);
  });

  test('Object Lock: mode and retention are both required and checked', () => {
    expect(problemsOf(() => parseStageConfig('x', { twilioAccountSid: SID, objectLock: {} }))).toEqual([
      'objectLock.mode is required',
      'objectLock.retentionDays is required',
    ]);
    expect(
      problemsOf(() =>
        parseStageConfig('x', { twilioAccountSid: SID, objectLock: { mode: 'governance', retentionDays: 36_501 } }),
      ),
    ).toEqual([
      'objectLock.mode must be one of GOVERNANCE, COMPLIANCE (got "governance")',
      'objectLock.retentionDays must be a whole number from 1 to 36500 (got 36501)',
    ]);
    expect(problemsOf(() => parseStageConfig('x', { twilioAccountSid: SID, objectLock: 'COMPLIANCE' }))).toEqual([
      'objectLock must be an object',
    ]);
  });

  test('reconcile: interval 0 … 1440, and the lookback must exceed the settle time', () => {
    expect(
      problemsOf(() => parseStageConfig('x', { twilioAccountSid: SID, reconcile: { intervalMinutes: 1441 } })),
    ).toEqual(['reconcile.intervalMinutes must be a whole number from 0 to 1440 (got 1441)']);
    expect(
      problemsOf(() =>
        parseStageConfig('x', { twilioAccountSid: SID, reconcile: { lookbackMinutes: 5, settleMinutes: 5 } }),
      ),
    ).toEqual([expect.stringMatching(/^reconcile\.lookbackMinutes must be greater than reconcile\.settleMinutes/)]);
  });

  test('every problem of the new fields is reported at once, one line each', () => {
    const problems = problemsOf(() =>
      parseStageConfig('x', {
        twilioAccountSid: SID,
        encryption: 'aws:kms',
        bucketVersioning: 'yes',
        objectLock: { mode: 'LEGAL_HOLD', retentionDays: 0 },
        reconcile: { intervalMinutes: -1, lookbackMinutes: 1.5, settleMinutes: 'soon' },
        alarms: { oldestJobAgeSeconds: 30, rejectedCallbacksPerPeriod: 0 },
        lifecycle: { infrequentAccessAfterDays: 30, glacierAfterDays: 40, expireAfterDays: 20 },
      }),
    );
    expect(problems).toEqual([
      'reconcile.intervalMinutes must be a whole number from 0 to 1440 (got -1)',
      'reconcile.lookbackMinutes must be a whole number from 1 to 10080 (got 1.5)',
      'reconcile.settleMinutes must be a whole number from 0 to 1440 (got "soon")',
      'alarms.oldestJobAgeSeconds must be a whole number from 60 to 1209600 (got 30)',
      'alarms.rejectedCallbacksPerPeriod must be a whole number from 1 to 1000000 (got 0)',
      'bucketVersioning must be true or false (got "yes")',
      'lifecycle.expireAfterDays is not supported: an S3 lifecycle expiry deletes recordings behind the ledger; use retention.days (the retention sweep erases them and the ledger says expired)',
      'lifecycle.glacierAfterDays must be at least 30 days after infrequentAccessAfterDays',
      'encryption must be one of s3-managed, kms (got "aws:kms")',
      'objectLock.mode must be one of GOVERNANCE, COMPLIANCE (got "LEGAL_HOLD")',
      'objectLock.retentionDays must be a whole number from 1 to 36500 (got 0)',
    ]);
  });

  test('a string field that is blank is one problem, not two', () => {
    expect(problemsOf(() => parseStageConfig('x', { twilioAccountSid: SID, twilioSecretName: '   ' }))).toEqual([
      'twilioSecretName must be a non-empty string',
    ]);
  });
});

describe('retention', () => {
  const SID_OK = `AC${'0'.repeat(32)}`;
  test('retention.days with defaults for the schedule and the per-run bound', () => {
    expect(parseStageConfig('x', { twilioAccountSid: SID_OK, retention: { days: 90 } }).retention).toEqual({
      days: 90,
      intervalMinutes: 60,
      maxRecordingsPerRun: 500,
    });
    expect(parseStageConfig('x', { twilioAccountSid: SID_OK }).retention).toBeUndefined();
  });

  test('every problem named: bad days, interval, bound, and a retention shorter than Object Lock keeps', () => {
    const bad = (raw: Record<string, unknown>) => {
      try {
        parseStageConfig('x', { twilioAccountSid: SID_OK, ...raw });
        return [];
      } catch (error) {
        return [...(error as { problems: string[] }).problems];
      }
    };
    expect(bad({ retention: { days: 0, intervalMinutes: 1, maxRecordingsPerRun: 0 } })).toEqual([
      'retention.days must be a whole number from 1 to 36500 (got 0)',
      'retention.intervalMinutes must be a whole number from 5 to 1440 (got 1)',
      'retention.maxRecordingsPerRun must be a whole number from 1 to 100000 (got 0)',
    ]);
    expect(
      bad({ bucketVersioning: true, objectLock: { mode: 'COMPLIANCE', retentionDays: 365 }, retention: { days: 30 } }),
    ).toEqual([
      'retention.days must be at least objectLock.retentionDays: Object Lock keeps every recording that long, so no sweep could expire it sooner',
    ]);
  });

  const bad = (raw: Record<string, unknown>) => {
    try {
      parseStageConfig('x', { twilioAccountSid: SID_OK, ...raw });
      return [];
    } catch (error) {
      return [...(error as { problems: string[] }).problems];
    }
  };
  const SOURCES =
    'one of DialVerb, Conference, OutboundAPI, Trunking, RecordVerb, StartCallRecordingAPI, StartConferenceRecordingAPI; the case counts';

  test('retention.bySource: a period per Twilio RecordingSource, the others keep retention.days', () => {
    const retention = parseStageConfig('x', {
      twilioAccountSid: SID_OK,
      retention: { days: 90, bySource: { RecordVerb: 30, Conference: 365 } },
    }).retention;
    expect(retention).toEqual({
      days: 90,
      bySource: { Conference: 365, RecordVerb: 30 },
      intervalMinutes: 60,
      maxRecordingsPerRun: 500,
    });
    expect(
      parseStageConfig('x', { twilioAccountSid: SID_OK, retention: { days: 90 } }).retention?.bySource,
    ).toBeUndefined();
  });

  test('retention.bySource: every unknown source and every bad period named at once, each with its path', () => {
    expect(
      bad({
        retention: {
          days: 0,
          bySource: {
            conference: 365,
            Voicemail: 30,
            RecordVerb: 0,
            DialVerb: 1.5,
            Trunking: '30',
            OutboundAPI: 36_501,
          },
        },
      }),
    ).toEqual([
      'retention.days must be a whole number from 1 to 36500 (got 0)',
      `retention.bySource.conference is not a Twilio RecordingSource (${SOURCES})`,
      `retention.bySource.Voicemail is not a Twilio RecordingSource (${SOURCES})`,
      'retention.bySource.RecordVerb must be a whole number from 1 to 36500 (got 0)',
      'retention.bySource.DialVerb must be a whole number from 1 to 36500 (got 1.5)',
      'retention.bySource.Trunking must be a whole number from 1 to 36500 (got "30")',
      'retention.bySource.OutboundAPI must be a whole number from 1 to 36500 (got 36501)',
    ]);
    expect(bad({ retention: { days: 90, bySource: ['Conference'] } })).toEqual([
      'retention.bySource must be an object',
    ]);
    expect(bad({ retention: { days: 90, bySource: 'Conference=365' } })).toEqual([
      'retention.bySource must be an object',
    ]);
  });

  test('a misspelt option is named, not dropped for its default: bysource would have erased conference recordings at retention.days', () => {
    expect(bad({ retention: { days: 30, bysource: { Conference: 365 } } })).toEqual([
      'retention has no option "bysource" (its options: days, bySource, intervalMinutes, maxRecordingsPerRun; the case counts)',
    ]);
    expect(bad({ ledger: { indexShards: 2, foo: 1 }, retentionDays: 30 })).toEqual([
      'ledger has no option "foo" (its options: indexShards; the case counts)',
      expect.stringMatching(
        /^has no option "retentionDays" \(its options: twilioAccountSid, .*, retention, objectLock, vpc; the case counts\)$/,
      ),
    ]);
  });

  test('retention.bySource: a period given as null is refused, not read as "keep retention.days"', () => {
    expect(bad({ retention: { days: 30, bySource: { Conference: null } } })).toEqual([
      'retention.bySource.Conference must be a whole number of days, not null (remove the key to keep retention.days)',
    ]);
  });

  test('retention.bySource: each period shorter than Object Lock keeps is named by its source', () => {
    const lock = { bucketVersioning: true, objectLock: { mode: 'COMPLIANCE', retentionDays: 365 } };
    expect(
      bad({ ...lock, retention: { days: 400, bySource: { Conference: 30, DialVerb: 365, RecordVerb: 364 } } }),
    ).toEqual([
      'retention.bySource.Conference must be at least objectLock.retentionDays: Object Lock keeps every recording that long, so no sweep could expire it sooner',
      'retention.bySource.RecordVerb must be at least objectLock.retentionDays: Object Lock keeps every recording that long, so no sweep could expire it sooner',
    ]);
    expect(bad({ ...lock, retention: { days: 30, bySource: { Conference: 30 } } })).toEqual([
      'retention.days must be at least objectLock.retentionDays: Object Lock keeps every recording that long, so no sweep could expire it sooner',
      'retention.bySource.Conference must be at least objectLock.retentionDays: Object Lock keeps every recording that long, so no sweep could expire it sooner',
    ]);
    expect(bad({ ...lock, retention: { days: 365, bySource: { Conference: 3650 } } })).toEqual([]);
  });
});
