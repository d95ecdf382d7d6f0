#!/usr/bin/env node
/**
 * `npm run decrypt -- --recording <RecordingSid> --private-key <key.pem> --out <file.wav> [--stage <name>] [--force]`:
 * decrypts the vault's copy of a recording made with Twilio's Voice Recording Encryption
 * (lib/ops/decrypt.ts). Exit 0 with the audio written; 1 on a wrong key, a damaged copy, bad
 * arguments or an unreachable target; 3 when the vault holds no stored copy of it.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { Command } from 'commander';
import { runCli, usageErrorsAs } from '../lib/ops/cli';
import { commandAudit } from '../lib/ops/command-audit';
import { checkDecryptRequest, decryptStoredRecording, formatDecrypted } from '../lib/ops/decrypt';
import { resolveTarget } from '../lib/ops/target';

const program = new Command()
  .name('npm run decrypt --')
  .description(
    'Decrypts a stored recording that Twilio encrypted with your public key, using your private key. Without --stage: the local stack.',
  )
  .requiredOption('--recording <RecordingSid>', 'the recording (RE…)')
  .requiredOption('--private-key <path>', 'PEM file of the RSA private key whose public half Twilio used')
  .requiredOption('--out <path>', 'where to write the audio (WAV)')
  .option('--stage <name>', 'a deployed stage (stack RecordingVault-<name>, your AWS credentials and region)')
  .option('--force', 'replace --out if it exists')
  .showSuggestionAfterError(false)
  .configureOutput(usageErrorsAs('decrypt'))
  .parse();

interface Options {
  readonly recording: string;
  readonly privateKey: string;
  readonly out: string;
  readonly stage?: string;
  readonly force?: boolean;
}

runCli('decrypt', async () => {
  const options = program.opts<Options>();
  const request = {
    recordingSid: options.recording.trim(),
    privateKeyPath: options.privateKey,
    outPath: options.out,
    force: options.force === true,
  };
  const privateKey = await checkDecryptRequest(request);
  const target = await resolveTarget({ stage: options.stage, env: process.env });
  try {
    // Entered in the audit trail before any plaintext exists, and again with how it ended.
    const audit = await commandAudit(target, { command: 'decrypt', stage: options.stage });
    await audit.record(request.recordingSid, 'ops.decrypt', 'requested');
    let result: Awaited<ReturnType<typeof decryptStoredRecording>>;
    try {
      result = await decryptStoredRecording(
        { ddb: target.ddb, s3: target.s3, ledgerTableName: target.ledgerTableName, targetName: target.name },
        request,
        privateKey,
      );
    } catch (error) {
      await audit.record(request.recordingSid, 'ops.decrypt', 'failed', {
        reason: error instanceof Error ? error.message : String(error),
      });
      throw error;
    }
    await audit.record(request.recordingSid, 'ops.decrypt', 'decrypted', { bytes: result.bytes });
    process.stdout.write(`${formatDecrypted(result)}\n`);
    return 0;
  } finally {
    target.close();
  }
});
