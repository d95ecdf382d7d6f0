/**
 * Who runs an operations command, as the audit trail records it: on a stage the IAM principal of
 * the operator's credentials (STS, mocked: no AWS here), locally the local user.
 */
import { hostname, userInfo } from 'node:os';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { CliError } from '../../../lib/ops/cli';
import { commandActor } from '../../../lib/ops/command-audit';

const sts = mockClient(STSClient);

afterEach(() => sts.reset());

test('on a stage: the principal ARN STS names for the credentials in use', async () => {
  const arn = 'arn:aws:sts::123456789012:assumed-role/Auditor/alice';
  sts.on(GetCallerIdentityCommand).resolves({ Arn: arn, Account: '123456789012', UserId: 'AROA:alice' });

  const actor = await commandActor({ command: 'export', stage: 'prod', sts: new STSClient({ region: 'us-east-1' }) });

  expect(actor).toEqual({ actor: arn, kind: 'iam', userAgent: `npm run export (${hostname()})` });
});

test('on a stage without usable credentials: a one-line error, nothing done', async () => {
  sts
    .on(GetCallerIdentityCommand)
    .rejects(Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError' }));

  await expect(
    commandActor({ command: 'status', stage: 'prod', sts: new STSClient({ region: 'us-east-1' }) }),
  ).rejects.toThrow(CliError);
});

test('locally: the local user', async () => {
  expect(await commandActor({ command: 'status' })).toEqual({
    actor: userInfo().username,
    kind: 'local',
    userAgent: `npm run status (${hostname()})`,
  });
});
