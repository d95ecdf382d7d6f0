/**
 * The local stack's retention settings (lib/local/config.ts): a start day that is no day of the
 * calendar is refused at start-up, not swept from for ever with nothing expired; the per-source
 * periods reach the retention function as the stage's do.
 */
import { loadRetentionConfig } from '../../../lambda/shared/config/function-config';
import { ConfigError, EnvReader } from '../../../lambda/shared/runtime/env-reader';
import { loadLocalConfig, localRetention } from '../../../lib/local/config';
import { localFunctionEnvs } from '../../../lib/local/function-env';

const env = { TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`, TWILIO_AUTH_TOKEN: 'x', RETENTION_DAYS: '2' };

function problemsOf(extra: Record<string, string>): readonly string[] {
  try {
    loadLocalConfig({ ...env, ...extra });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

test.each(['2026-13-45', '2026-02-30', '2025-02-29', '2026-1-05', 'yesterday'])(
  'RETENTION_EARLIEST_DAY=%s is refused, naming the variable',
  (day) => {
    expect(problemsOf({ RETENTION_EARLIEST_DAY: day })).toEqual([
      `RETENTION_EARLIEST_DAY must be a day of the calendar, YYYY-MM-DD (got "${day}")`,
    ]);
  },
);

test.each(['2024-02-29', '2008-01-01', '2026-12-31'])(
  'RETENTION_EARLIEST_DAY=%s starts the first sweep there',
  (day) => {
    expect(loadLocalConfig({ ...env, RETENTION_EARLIEST_DAY: day }).retentionEarliestDay).toBe(day);
  },
);

const QUEUES = {
  queueUrl: 'http://127.0.0.1:9324/queue/t',
  queueArn: 'arn:aws:sqs:us-east-1:000000000000:t',
  dlqUrl: 'http://127.0.0.1:9324/queue/d',
  dlqArn: 'arn:aws:sqs:us-east-1:000000000000:d',
};

test('RETENTION_DAYS_BY_SOURCE reaches the retention function, read back as the sweep reads it', () => {
  const config = loadLocalConfig({ ...env, RETENTION_DAYS_BY_SOURCE: ' RecordVerb=1, Conference=365 ' });
  expect(config.retentionDaysBySource).toEqual({ Conference: 365, RecordVerb: 1 });
  const retention = localFunctionEnvs(config, QUEUES).retention;
  expect(retention).toMatchObject({ RETENTION_DAYS: '2', RETENTION_DAYS_BY_SOURCE: 'Conference=365,RecordVerb=1' });
  const read = loadRetentionConfig(retention);
  expect(read.retentionDays).toBe(2);
  expect(read.retentionDaysBySource).toEqual({ Conference: 365, RecordVerb: 1 });
});

test('without RETENTION_DAYS_BY_SOURCE every source keeps RETENTION_DAYS and the function is not told of any', () => {
  const config = loadLocalConfig(env);
  expect(config.retentionDaysBySource).toEqual({});
  expect(localFunctionEnvs(config, QUEUES).retention).not.toHaveProperty('RETENTION_DAYS_BY_SOURCE');
});

test("every problem of RETENTION_DAYS_BY_SOURCE is named at once, with the other variables' problems", () => {
  expect(
    problemsOf({
      RETENTION_DAYS: '0',
      RETENTION_DAYS_BY_SOURCE: 'conference=365,RecordVerb=0,Conference=30,Conference=31',
      RETENTION_SWEEP_SECONDS: 'often',
    }),
  ).toEqual([
    'RETENTION_DAYS must be a whole number from 1 to 36500 (got "0")',
    'RETENTION_DAYS_BY_SOURCE: "conference" is not a Twilio RecordingSource (one of DialVerb, Conference, OutboundAPI, Trunking, RecordVerb, StartCallRecordingAPI, StartConferenceRecordingAPI)',
    'RETENTION_DAYS_BY_SOURCE: RecordVerb must be a whole number of days from 1 to 36500 (got "RecordVerb=0")',
    'RETENTION_DAYS_BY_SOURCE: Conference is named twice',
    'RETENTION_SWEEP_SECONDS must be a whole number from 1 to 604800 (got "often")',
  ]);
});

test('RETENTION_DAYS_BY_SOURCE without RETENTION_DAYS is refused: there is no sweep for it to refine', () => {
  const { RETENTION_DAYS: _, ...withoutDays } = env;
  const r = new EnvReader({ ...withoutDays, RETENTION_DAYS_BY_SOURCE: 'Conference=365' });
  expect(localRetention(r)).toEqual({ retentionDaysBySource: { Conference: 365 }, retentionSweepSeconds: 3600 });
  expect(r.problems).toEqual([
    'RETENTION_DAYS_BY_SOURCE requires RETENTION_DAYS (the period of every source it does not name)',
  ]);
});

test('npm run status -- --retention reads the per-source periods as npm start does', () => {
  const r = new EnvReader({ RETENTION_DAYS: '90', RETENTION_DAYS_BY_SOURCE: 'Conference=365' });
  expect(localRetention(r)).toEqual({
    retentionDays: 90,
    retentionDaysBySource: { Conference: 365 },
    retentionSweepSeconds: 3600,
  });
  expect(r.problems).toEqual([]);
});
