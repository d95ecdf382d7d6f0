/**
 * The end of the local stack's banner: what to do next, ready to paste. The API lists by UTC day
 * (`from` inclusive, `to` exclusive), so "today" is today's UTC date.
 */
import { type DaysBySource, formatDaysBySource } from '../../lambda/shared/config/retention-by-source';
import { RECORDING_SOURCES } from '../../lambda/shared/job/recording-job';
import { DEFAULT_RETENTION_SWEEP_SECONDS, type LocalConfig } from './config';

const utcDay = (at: Date) => at.toISOString().slice(0, 10);

export type EmulatorPlaces = Pick<LocalConfig, 'dynamodbPort' | 's3Port' | 'sqsPort'> &
  Partial<Pick<LocalConfig, 'dynamodbEndpoint' | 's3Endpoint' | 'sqsEndpoint'>>;

const SERVICES = [
  { service: 'DYNAMODB', port: 'dynamodbPort', endpoint: 'dynamodbEndpoint', variable: 'DYNAMODB_PORT', default: 8000 },
  { service: 'S3', port: 's3Port', endpoint: 's3Endpoint', variable: 'S3_PORT', default: 4569 },
  { service: 'SQS', port: 'sqsPort', endpoint: 'sqsEndpoint', variable: 'SQS_PORT', default: 9324 },
] as const;

/**
 * What a command run from another terminal (status, decrypt, backfill) must be given to find this
 * stack's emulators: each port that is not the default, or the external endpoint used instead.
 */
export function emulatorVariables(places: EmulatorPlaces): string[] {
  return SERVICES.flatMap((s) => {
    const endpoint = places[s.endpoint];
    if (endpoint) return [`AWS_ENDPOINT_URL_${s.service}=${endpoint}`];
    return places[s.port] === s.default ? [] : [`${s.variable}=${places[s.port]}`];
  });
}

/** The retention `npm start` was given, which `status` must be given too to judge due dates. */
export type RetentionPlaces = Partial<
  Pick<LocalConfig, 'retentionDays' | 'retentionDaysBySource' | 'retentionSweepSeconds' | 'retentionEarliestDay'>
>;

/**
 * The RETENTION_* variables `npm start` was given, for `npm run status`: with other periods (or
 * none) it cannot tell a recording's due date, nor where the sweep's walks stand.
 */
export function retentionVariables(retention: RetentionPlaces): string[] {
  if (retention.retentionDays === undefined) return [];
  const bySource = formatDaysBySource(retention.retentionDaysBySource ?? {});
  return [
    `RETENTION_DAYS=${retention.retentionDays}`,
    ...(bySource ? [`RETENTION_DAYS_BY_SOURCE=${shellQuoted(bySource)}`] : []),
    // The interval it judges a late run by (and states).
    ...(retention.retentionSweepSeconds !== undefined &&
    retention.retentionSweepSeconds !== DEFAULT_RETENTION_SWEEP_SECONDS
      ? [`RETENTION_SWEEP_SECONDS=${retention.retentionSweepSeconds}`]
      : []),
    ...(retention.retentionEarliestDay ? [`RETENTION_EARLIEST_DAY=${retention.retentionEarliestDay}`] : []),
  ];
}

/** As typed into a POSIX shell: single-quoted unless every character is plainly safe. */
function shellQuoted(value: string): string {
  return /^[A-Za-z0-9_=,.:/-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}

export function nextSteps(
  apiUrl: string,
  apiToken: string,
  now: Date,
  places: EmulatorPlaces & RetentionPlaces,
): string[] {
  const today = utcDay(now);
  const tomorrow = utcDay(new Date(now.getTime() + 24 * 3600 * 1000));
  return [
    '',
    'Next:',
    `  Open the console:        ${apiUrl}/#token=${apiToken}`,
    "  List today's recordings:",
    `    curl -H "Authorization: Bearer ${apiToken}" "${apiUrl}/recordings?from=${today}&to=${tomorrow}"`,
    '  What the vault knows of one (another terminal):',
    `    ${[...emulatorVariables(places), ...retentionVariables(places), 'npm run status -- --recording RE…'].join(' ')}`,
    '  Stop: Ctrl-C once (queued jobs are kept for the next start)',
  ];
}

/** The banner's retention line, when RETENTION_DAYS is set; with RETENTION_DAYS_BY_SOURCE's periods too. */
export function retentionLine(days: number, sweepSeconds: number, bySource: DaysBySource = {}): string {
  const daysText = (n: number) => `${n} day${n === 1 ? '' : 's'}`;
  const sources = RECORDING_SOURCES.flatMap((source) => {
    const period = bySource[source];
    return period === undefined ? [] : [`${source} ${daysText(period)}`];
  });
  return `Retention: recordings older than ${daysText(days)} expired every ${sweepSeconds} s${sources.length > 0 ? ` (by source: ${sources.join(', ')})` : ''}`;
}
