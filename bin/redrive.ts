#!/usr/bin/env node
/**
 * `npm run redrive -- [--stage <name>]`: moves every job of the dead-letter queue back to the
 * transfer queue (lib/ops/redrive.ts). Progress on stderr; the last line `redrive: moved N`.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { CliError, EXIT, runCli, usageErrorsAs } from '../lib/ops/cli';
import { RedriveError, type RedriveProgress, redrive } from '../lib/ops/redrive';
import { resolveTarget } from '../lib/ops/target';

const program = new Command()
  .name('npm run redrive --')
  .description(
    'Moves every job of the dead-letter queue back to the transfer queue (fix the cause first). Without --stage: the local stack.',
  )
  .option('--stage <name>', 'a deployed stage (stack RecordingVault-<name>, your AWS credentials and region)')
  .showSuggestionAfterError(false)
  .configureOutput(usageErrorsAs('redrive'))
  .parse();

/** A bar on a terminal; otherwise a plain line at most once a second. */
function progressReporter(): { update(p: RedriveProgress): void; stop(): void } {
  if (process.stderr.isTTY) {
    const bar = new SingleBar({
      stream: process.stderr,
      format: 'redrive [{bar}] {value}/~{total} jobs',
      hideCursor: true,
      clearOnComplete: true,
    });
    let started = false;
    return {
      update({ moved, approximateTotal }) {
        const total = Math.max(moved, approximateTotal);
        if (!started) {
          bar.start(total, moved);
          started = true;
        }
        bar.setTotal(total);
        bar.update(moved);
      },
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  return {
    update({ moved, approximateTotal }) {
      const now = Date.now();
      if (now - last < 1000) return;
      last = now;
      process.stderr.write(`redrive: moved ${moved} of about ${Math.max(moved, approximateTotal)}\n`);
    },
    stop: () => undefined,
  };
}

runCli('redrive', async () => {
  const { stage } = program.opts<{ stage?: string }>();
  const target = await resolveTarget({ stage, env: process.env });
  const progress = progressReporter();
  try {
    process.stderr.write(`redrive: ${target.name}: dead-letter queue → transfer queue\n`);
    const result = await redrive({
      sqs: target.sqs,
      deadLetterQueueUrl: target.deadLetterQueueUrl,
      transferQueueUrl: target.transferQueueUrl,
      onProgress: (p) => progress.update(p),
    });
    progress.stop();
    if (result.failedAgain > 0) {
      process.stderr.write(
        `redrive: ${result.failedAgain} job(s) came back to the dead-letter queue during the run (failed again) and were left there; see npm run status -- --recording <RecordingSid>\n`,
      );
    }
    process.stdout.write(`redrive: moved ${result.moved}\n`);
    return EXIT.ok;
  } catch (error) {
    progress.stop();
    if (error instanceof RedriveError) {
      throw new CliError(`moved ${error.moved}, then stopped: ${error.message}`);
    }
    throw error;
  } finally {
    target.close();
  }
});
