#!/usr/bin/env node
/**
 * `npm run status -- [--stage <name>] --recording <RecordingSid> | --call <callId> [--json]`:
 * what the ledger, the call entry, S3 and the dead-letter queue know of one recording, or of
 * every recording of one call (lib/ops/status.ts). Exit 0; 3 when the vault does not know it;
 * 1 on bad arguments or an unreachable target.
 *
 * `npm run status -- [--stage <name>] --retention [--json]`: where the retention sweep stands
 * (lib/ops/retention-status.ts). Exit 0, or 1.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { Command, Option } from 'commander';
import { CliError, EXIT, runCli, usageErrorsAs } from '../lib/ops/cli';
import { commandAudit } from '../lib/ops/command-audit';
import {
  formatRetentionStatus,
  knownRetention,
  localEarliestDay,
  retentionPolicy,
  retentionStatus,
} from '../lib/ops/retention-status';
import { formatStatus, NotFoundError, RECORDING_SID, recordingStatus, type StatusQuery } from '../lib/ops/status';
import { resolveTarget } from '../lib/ops/target';

const program = new Command()
  .name('npm run status --')
  .description(
    'What the vault knows of one recording, or of every recording of one call: ledger, call entry, S3 object, dead-letter queue; or, with --retention, where the retention sweep stands. Without --stage: the local stack.',
  )
  .option('--stage <name>', 'a deployed stage (stack RecordingVault-<name>, your AWS credentials and region)')
  .option('--recording <RecordingSid>', 'one recording (RE…)')
  .option('--call <callId>', "every recording of one call (the app's callId, or a CallSid)")
  .addOption(
    new Option('--retention', 'the retention sweep: cutoff, next day, recordings passed by, last run').conflicts([
      'recording',
      'call',
    ]),
  )
  .option('--json', 'the report as JSON, for scripts')
  .showSuggestionAfterError(false)
  .configureOutput(usageErrorsAs('status'))
  .parse();

interface Options {
  readonly stage?: string;
  readonly recording?: string;
  readonly call?: string;
  readonly retention?: boolean;
  readonly json?: boolean;
}

/** The pseudo recording under which `--retention` is audited (one partition per day, like `~export`). */
const RETENTION_AUDIT_PARTITION = '~retention';

function queryOf(options: Options): StatusQuery {
  if ((options.recording === undefined) === (options.call === undefined)) {
    throw new CliError('give either --recording <RecordingSid> or --call <callId>');
  }
  if (options.recording !== undefined) {
    const recordingSid = options.recording.trim();
    if (!RECORDING_SID.test(recordingSid)) {
      throw new CliError(
        `--recording must be a RecordingSid (RE and 32 hex digits; got ${JSON.stringify(recordingSid)})`,
      );
    }
    return { recordingSid };
  }
  const callId = (options.call ?? '').trim();
  if (!callId) throw new CliError('--call must not be empty');
  return { callId };
}

runCli('status', async () => {
  const options = program.opts<Options>();
  if (options.retention) return retentionReport(options);
  const query = queryOf(options);
  const retention = knownRetention({ stage: options.stage, env: process.env });
  const target = await resolveTarget({ stage: options.stage, env: process.env });
  try {
    // Who looked: entered in the audit trail for every recording shown, before it is shown.
    const audit = await commandAudit(target, { command: 'status', stage: options.stage });
    const report = await recordingStatus(
      {
        ddb: target.ddb,
        s3: target.s3,
        sqs: target.sqs,
        ledgerTableName: target.ledgerTableName,
        callsTableName: target.callsTableName,
        callSidIndexName: target.callSidIndexName,
        bucketName: target.bucketName,
        deadLetterQueueUrl: target.deadLetterQueueUrl,
        ...(retention ? { retentionDays: retention.days, retentionDaysBySource: retention.bySource } : {}),
      },
      query,
    );
    for (const recording of report.recordings) {
      await audit.record(
        recording.recordingSid,
        'ops.status',
        'shown',
        'recordingSid' in query ? {} : { call: query.callId },
      );
    }
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatStatus(report)}\n`);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof NotFoundError) throw new CliError(`${error.message} (${target.name})`, EXIT.notFound);
    throw error;
  } finally {
    target.close();
  }
});

async function retentionReport(options: Options): Promise<number> {
  // cdk.json or the environment first: a typo fails before anything is asked of AWS.
  const policy = retentionPolicy({ stage: options.stage, env: process.env });
  const target = await resolveTarget({ stage: options.stage, env: process.env });
  try {
    // Who looked: one entry per use (it concerns no single recording), before anything is shown.
    const audit = await commandAudit(target, { command: 'status', stage: options.stage });
    await audit.record(RETENTION_AUDIT_PARTITION, 'ops.status', 'shown', { retention: true });
    const report = await retentionStatus(
      {
        ddb: target.ddb,
        ledgerTableName: target.ledgerTableName,
        targetName: target.name,
        local: options.stage === undefined,
        ...(options.stage === undefined ? localEarliestDay(process.env) : {}),
      },
      policy,
    );
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatRetentionStatus(report)}\n`);
    return EXIT.ok;
  } finally {
    target.close();
  }
}
