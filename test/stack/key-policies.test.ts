/**
 * Key policies of the stage key (prod, `encryption: "kms"`) and of the alarm topic's own key
 * (dev, `s3-managed`): service principals are bound to this account (and its alarms / log
 * groups), and grants can be created only for AWS resources.
 */
import { asList, type Json, resourcesOfType, type SynthesizedStage, synthStage } from './synth-stage';

const ENV = { account: '123456789012', region: 'eu-west-1' } as const;

let prod: SynthesizedStage;
let dev: SynthesizedStage;

beforeAll(() => {
  prod = synthStage({ stage: 'prod', env: ENV });
  dev = synthStage({ stage: 'dev', env: ENV });
});

const stages = () =>
  [
    ['prod', () => prod],
    ['dev', () => dev],
  ] as const;

function keyStatements(s: SynthesizedStage): Json[] {
  const keys = resourcesOfType(s, 'AWS::KMS::Key');
  expect(keys).toHaveLength(1);
  return keys.flatMap(([, k]) => k.Properties.KeyPolicy.Statement as Json[]);
}

const byService = (statements: Json[], service: string) =>
  statements.filter((st) => asList(st.Principal?.Service ?? []).includes(service));

describe.each(stages())('%s: the key policy', (_name, get) => {
  test('lets CloudWatch use the key only for alarms of this account and region', () => {
    const cloudwatch = byService(keyStatements(get()), 'cloudwatch.amazonaws.com');
    expect(cloudwatch).toHaveLength(1);
    expect(cloudwatch[0]).toMatchObject({
      Effect: 'Allow',
      // The stage key (ExactGrantsKey) grants GenerateDataKey; the topic's own key GenerateDataKey*.
      Action: ['kms:Decrypt', expect.stringMatching(/^kms:GenerateDataKey\*?$/)],
      Condition: {
        StringEquals: { 'aws:SourceAccount': ENV.account },
        ArnLike: { 'aws:SourceArn': `arn:aws:cloudwatch:${ENV.region}:${ENV.account}:alarm:*` },
      },
    });
  });

  test('denies kms:CreateGrant unless the grant is for an AWS resource or the caller an AWS service', () => {
    expect(keyStatements(get())).toContainEqual({
      Sid: 'DenyGrantsExceptForAwsServices',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'kms:CreateGrant',
      Resource: '*',
      Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
    });
  });

  test('every service principal of the policy carries a source or encryption-context condition', () => {
    for (const st of keyStatements(get()).filter((s) => s.Principal?.Service !== undefined)) {
      const conditions = Object.values(st.Condition ?? {}).flatMap((c) => Object.keys(c as Json));
      expect(conditions.some((c) => /^aws:Source(Account|Arn)$|^kms:EncryptionContext:|^kms:ViaService$/.test(c))).toBe(
        true,
      );
    }
  });
});

describe('prod: log groups under the stage key', () => {
  test("CloudWatch Logs of the stack's region may use it for this account's log groups only", () => {
    const logs = byService(keyStatements(prod), `logs.${ENV.region}.amazonaws.com`);
    expect(logs).toHaveLength(1);
    expect(logs[0]?.Condition).toEqual({
      ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${ENV.region}:${ENV.account}:log-group:*` },
    });
  });

  test('every log group of the stack is encrypted with it', () => {
    const [[keyId]] = resourcesOfType(prod, 'AWS::KMS::Key') as [[string, Json]];
    const groups = resourcesOfType(prod, 'AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThanOrEqual(6);
    for (const [, group] of groups) expect(group.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
  });
});
