/**
 * What the local stack prints after `ready` (lib/local/next-steps.ts): commands ready to paste into
 * another terminal, which has none of this one's variables.
 */
import { nextSteps, retentionLine } from '../../../lib/local/next-steps';

const API = 'http://127.0.0.1:3000';
const NOW = new Date('2026-12-07T21:00:00Z');
const DEFAULT_PORTS = { dynamodbPort: 8000, s3Port: 4569, sqsPort: 9324 } as const;

const statusHint = (lines: string[]) => lines.find((line) => line.includes('npm run status'))?.trim();

test('on the default ports the status command needs no variables', () => {
  expect(statusHint(nextSteps(API, 'tok', NOW, DEFAULT_PORTS))).toBe('npm run status -- --recording RE…');
});

test('on other emulator ports the status command carries them, as the decrypt and backfill hints do', () => {
  const lines = nextSteps(API, 'tok', NOW, { dynamodbPort: 8100, s3Port: 4569, sqsPort: 9400 });

  expect(statusHint(lines)).toBe('DYNAMODB_PORT=8100 SQS_PORT=9400 npm run status -- --recording RE…');
});

test('an external endpoint is carried as its AWS_ENDPOINT_URL_ variable instead of a port', () => {
  const lines = nextSteps(API, 'tok', NOW, {
    ...DEFAULT_PORTS,
    dynamodbPort: 8100,
    dynamodbEndpoint: 'http://127.0.0.1:8200',
  });

  expect(statusHint(lines)).toBe('AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8200 npm run status -- --recording RE…');
});

test('the status command carries the RETENTION_* variables npm start was given, so it judges due dates by the same periods', () => {
  const lines = nextSteps(API, 'tok', NOW, {
    ...DEFAULT_PORTS,
    dynamodbPort: 8100,
    retentionDays: 30,
    retentionDaysBySource: { RecordVerb: 1, Conference: 365 },
    retentionEarliestDay: '2024-01-01',
  });

  expect(statusHint(lines)).toBe(
    'DYNAMODB_PORT=8100 RETENTION_DAYS=30 RETENTION_DAYS_BY_SOURCE=Conference=365,RecordVerb=1 RETENTION_EARLIEST_DAY=2024-01-01 npm run status -- --recording RE…',
  );
  expect(
    statusHint(nextSteps(API, 'tok', NOW, { ...DEFAULT_PORTS, retentionDays: 7, retentionDaysBySource: {} })),
  ).toBe('RETENTION_DAYS=7 npm run status -- --recording RE…');
});

test('a sweep interval other than the default is carried too: status judges a late run by it', () => {
  const lines = nextSteps(API, 'tok', NOW, { ...DEFAULT_PORTS, retentionDays: 7, retentionSweepSeconds: 20 });

  expect(statusHint(lines)).toBe('RETENTION_DAYS=7 RETENTION_SWEEP_SECONDS=20 npm run status -- --recording RE…');
  expect(
    statusHint(nextSteps(API, 'tok', NOW, { ...DEFAULT_PORTS, retentionDays: 7, retentionSweepSeconds: 3600 })),
  ).toBe('RETENTION_DAYS=7 npm run status -- --recording RE…');
});

test("the listing hint asks for today's UTC day", () => {
  expect(nextSteps(API, 'tok', NOW, DEFAULT_PORTS).join('\n')).toContain(
    `${API}/recordings?from=2026-12-07&to=2026-12-08`,
  );
});

test('the retention line counts days and seconds in proper English', () => {
  expect(retentionLine(1, 1)).toBe('Retention: recordings older than 1 day expired every 1 s');
  expect(retentionLine(30, 3600)).toBe('Retention: recordings older than 30 days expired every 3600 s');
});

test('the retention line names the per-source periods, in Twilio order of the sources', () => {
  expect(retentionLine(30, 3600, { RecordVerb: 1, Conference: 365 })).toBe(
    'Retention: recordings older than 30 days expired every 3600 s (by source: Conference 365 days, RecordVerb 1 day)',
  );
  expect(retentionLine(30, 3600, {})).toBe('Retention: recordings older than 30 days expired every 3600 s');
});
