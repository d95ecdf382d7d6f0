#!/usr/bin/env node
/**
 * `npm run audit -- --recording <RecordingSid> | --actor <actor> [--from <date>] [--to <date>]
 * [--stage <name>] [--json]`: who accessed a recording, or what one actor did (lib/ops/audit.ts).
 * The last line says how many entries; exit 0 (also with none), 1 on bad arguments or an
 * unreachable target.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { Command } from 'commander';
import { type AuditQuery, DEFAULT_ACTOR_DAYS, formatAudit, readAudit } from '../lib/ops/audit';
import { parseInstant } from '../lib/ops/backfill';
import { CliError, EXIT, runCli, usageErrorsAs } from '../lib/ops/cli';
import { RECORDING_SID } from '../lib/ops/status';
import { resolveTarget } from '../lib/ops/target';

interface Options {
  readonly recording?: string;
  readonly actor?: string;
  readonly from?: Date;
  readonly to?: Date;
  readonly stage?: string;
  readonly json?: boolean;
}

const program = new Command()
  .name('npm run audit --')
  .description(
    'The access audit trail: every URL issued, listing page, erasure, hold, release and operations command, with who, when and from where. Without --stage: the local stack.',
  )
  .option('--recording <RecordingSid>', "one recording's entries (RE…)")
  .option('--actor <actor>', 'what one caller did: a JWT sub, an IAM principal ARN, or a local user')
  .option(
    '--from <date>',
    `with --actor: first time, inclusive (default: ${DEFAULT_ACTOR_DAYS} days ago)`,
    parseInstant,
  )
  .option('--to <date>', 'with --actor: end, exclusive (default: now)', parseInstant)
  .option('--stage <name>', 'a deployed stage (stack RecordingVault-<name>, your AWS credentials and region)')
  .option('--json', 'the entries as JSON, for scripts')
  .allowExcessArguments(false)
  .showSuggestionAfterError(false)
  .configureOutput(usageErrorsAs('audit'));

function queryOf(options: Options): AuditQuery {
  if ((options.recording === undefined) === (options.actor === undefined)) {
    throw new CliError('give either --recording <RecordingSid> or --actor <actor>');
  }
  if (options.recording !== undefined) {
    const recordingSid = options.recording.trim();
    if (!RECORDING_SID.test(recordingSid)) {
      throw new CliError(
        `--recording must be a RecordingSid (RE and 32 hex digits; got ${JSON.stringify(recordingSid)})`,
      );
    }
    if (options.from || options.to) throw new CliError('--from and --to go with --actor');
    return { recordingSid };
  }
  const actor = (options.actor ?? '').trim();
  if (!actor) throw new CliError('--actor must not be empty');
  const to = options.to ?? new Date();
  const from = options.from ?? new Date(to.getTime() - DEFAULT_ACTOR_DAYS * 24 * 3600 * 1000);
  if (from.getTime() >= to.getTime()) throw new CliError('--from must be before --to');
  return { actor, from, to };
}

runCli('audit', async () => {
  const options = program.parse().opts<Options>();
  const query = queryOf(options);
  const target = await resolveTarget({ stage: options.stage });
  try {
    const entries = await readAudit(target, query);
    process.stdout.write(
      options.json ? `${JSON.stringify({ entries }, null, 2)}\n` : `${formatAudit(entries, query)}\n`,
    );
    return EXIT.ok;
  } finally {
    target.close();
  }
});
