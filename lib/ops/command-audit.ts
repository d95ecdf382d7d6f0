/**
 * The operations commands' entries in the access audit trail (`status`, `decrypt`, `export`): who
 * runs the command — on a deployed stage the IAM principal of the operator's credentials (STS
 * GetCallerIdentity), on the local stack the local user — and the host it runs on. Each entry is
 * written before the command shows or hands out anything; a command that cannot write it stops.
 */
import { hostname, userInfo } from 'node:os';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AuditAction, AuditActor, AuditDetails } from '../../lambda/shared/audit/audit-record';
import { type AuditRecorder, AuditWriter } from '../../lambda/shared/audit/audit-trail';
import { CliError } from './cli';
import { describeError, type VaultTarget } from './target';

export interface CommandAuditOptions {
  /** `status`, `decrypt`, `export`: the user agent is `npm run <command>`. */
  readonly command: string;
  /** A deployed stage (IAM principal from STS); unset: the local stack (the local user). */
  readonly stage?: string | undefined;
  /** For tests: the STS client to ask. */
  readonly sts?: Pick<STSClient, 'send'>;
}

export interface CommandAudit {
  readonly actor: AuditActor;
  /** Enters one action on one recording (or a pseudo partition such as `~export`). */
  record(recordingSid: string, action: AuditAction, outcome: string, details?: AuditDetails): Promise<void>;
}

function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? 'unknown';
  }
}

/** Who runs this command, as the audit trail records it. */
export async function commandActor(options: CommandAuditOptions): Promise<AuditActor> {
  const userAgent = `npm run ${options.command} (${hostname()})`;
  if (options.stage === undefined) return { actor: localUser(), kind: 'local', userAgent };
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const sts = options.sts ?? new STSClient({ ...(region ? { region } : {}), ignoreConfiguredEndpointUrls: true });
  try {
    const { Arn } = await sts.send(new GetCallerIdentityCommand({}));
    if (!Arn) throw new Error('STS named no principal');
    return { actor: Arn, kind: 'iam', userAgent };
  } catch (error) {
    throw new CliError(`cannot tell who you are for the audit trail (STS GetCallerIdentity): ${describeError(error)}`);
  } finally {
    if (!options.sts) (sts as STSClient).destroy();
  }
}

/** The audit trail of `target`, written as the person running the command. */
export async function commandAudit(
  target: Pick<VaultTarget, 'ddb' | 'auditTableName' | 'name'>,
  options: CommandAuditOptions,
  recorder?: AuditRecorder,
): Promise<CommandAudit> {
  if (!recorder && !target.auditTableName) {
    throw new CliError(`${target.name} has no audit table (output AuditTableName): deploy the current version`);
  }
  const writer = recorder ?? new AuditWriter(target.ddb, target.auditTableName as string);
  const actor = await commandActor(options);
  return {
    actor,
    async record(recordingSid, action, outcome, details) {
      try {
        await writer.record({ ...actor, recordingSid, action, outcome, ...(details ? { details } : {}) });
      } catch (error) {
        throw new CliError(`cannot write the audit trail of ${target.name}: ${describeError(error)}`);
      }
    },
  };
}
