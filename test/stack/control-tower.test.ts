/**
 * AWS Control Tower proactive controls, offline: every stage of cdk.json, and VPC stages, are
 * synthesized once into a temporary directory and checked in one run of the cfn-guard binary
 * with the Control Tower rules that `@cdklabs/cdk-validator-cfnguard` ships. A stage may fail a
 * control only where control-tower-exceptions.ts gives the reason.
 *
 * The stacks get a concrete account and region, as in a pipeline with credentials: the hooks
 * check resolved values, and some rules read a `{ Ref: AWS::AccountId }` as "not a string".
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ControlFailure, cfnGuardBinary, runControlTowerRules } from './cfn-guard';
import { CONTROL_TOWER_EXCEPTIONS, exceptionFor } from './control-tower-exceptions';
import { cdkJson, type Json, type SynthesizedStage, synthStage } from './synth-stage';

const ENV = { account: '123456789012', region: 'us-east-1' } as const;

/** prod's settings in a new VPC; dev's in an existing one. */
const VPC_STAGES: Record<string, { readonly base: string; readonly overrides: Json }> = {
  vpc: { base: 'prod', overrides: { vpc: { type: 'new' } } },
  'vpc-existing': {
    base: 'dev',
    overrides: {
      vpc: {
        type: 'existing',
        vpcId: 'vpc-0123456789abcdef0',
        subnets: [
          {
            subnetId: 'subnet-0123456789abcdef0',
            availabilityZone: 'us-east-1a',
            routeTableId: 'rtb-0123456789abcdef0',
          },
          {
            subnetId: 'subnet-0123456789abcdef1',
            availabilityZone: 'us-east-1b',
            routeTableId: 'rtb-0123456789abcdef1',
          },
        ],
      },
    },
  },
};

const STAGE_NAMES = [...Object.keys(cdkJson.context.stages), ...Object.keys(VPC_STAGES)];

let dir: string;
const stages = new Map<string, SynthesizedStage>();
const failures = new Map<string, ControlFailure[]>();

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'control-tower-'));
  for (const stage of STAGE_NAMES) {
    const vpcStage = VPC_STAGES[stage];
    stages.set(stage, synthStage({ stage, ...(vpcStage ?? {}), env: ENV, outdir: path.join(dir, stage) }));
  }
  const byTemplate = new Map([...stages].map(([name, s]) => [s.templateFile, name]));
  for (const stage of STAGE_NAMES) failures.set(stage, []);
  for (const failure of runControlTowerRules([...byTemplate.keys()])) {
    failures.get(byTemplate.get(failure.template) as string)?.push(failure);
  }
}, 300_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const failuresOf = (stage: string) => failures.get(stage) ?? [];
const configOf = (stage: string) => (stages.get(stage) as SynthesizedStage).stack.config;
const show = (f: ControlFailure) => `${f.control} ${f.resource}`;

test('the shipped cfn-guard binary runs on this machine', () => {
  expect(execFileSync(cfnGuardBinary(), ['--version'], { encoding: 'utf8' })).toMatch(/^cfn-guard 3\./);
});

test.each(STAGE_NAMES)('%s fails no control outside the reasoned exceptions', (stage) => {
  const unexcused = failuresOf(stage).filter((f) => exceptionFor(f.control, f.resource, configOf(stage)) === undefined);
  expect(unexcused.map(show)).toEqual([]);
});

test('the check sees failures: dev (functions outside a VPC, SSE-S3) fails the controls it is excused from', () => {
  const dev = failuresOf('dev').map(show);
  expect(dev).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^CT\.LAMBDA\.PR\.3 WebhookFunction/),
      expect.stringMatching(/^CT\.S3\.PR\.10 StorageRecordings/),
      expect.stringMatching(/^CT\.CLOUDWATCH\.PR\.3 /),
    ]),
  );
});

test('prod passes the controls it used to fail: log groups under the key, key grants, invoke permissions, DLQ', () => {
  const controls = new Set(failuresOf('prod').map((f) => f.control));
  for (const control of ['CT.CLOUDWATCH.PR.3', 'CT.KMS.PR.3', 'CT.LAMBDA.PR.2', 'CT.SQS.PR.1']) {
    expect(controls).not.toContain(control);
  }
  // And no stage is excused from those three anywhere.
  const never = ['CT.KMS.PR.3', 'CT.LAMBDA.PR.2', 'CT.SQS.PR.1'];
  expect(CONTROL_TOWER_EXCEPTIONS.filter((e) => never.includes(e.control))).toEqual([]);
});

test('a VPC stage runs every function of the vault in the VPC (CT.LAMBDA.PR.3)', () => {
  for (const stage of Object.keys(VPC_STAGES)) {
    const outside = failuresOf(stage).filter((f) => f.control === 'CT.LAMBDA.PR.3' && !/^Custom/.test(f.resource));
    expect(outside.map(show)).toEqual([]);
  }
});

test('every exception is still needed by some stage', () => {
  const used = new Set(
    STAGE_NAMES.flatMap((stage) =>
      failuresOf(stage).map((f) => exceptionFor(f.control, f.resource, configOf(stage))),
    ).filter((e) => e !== undefined),
  );
  expect(CONTROL_TOWER_EXCEPTIONS.filter((e) => !used.has(e)).map((e) => `${e.control} ${e.resource}`)).toEqual([]);
});

describe('prod template', () => {
  const resources = () => (stages.get('prod') as SynthesizedStage).resources;

  test("the DLQ's redrive-allow policy names the transfer queue only", () => {
    const queues = Object.values(resources()).filter((r) => r.Type === 'AWS::SQS::Queue');
    const dlq = queues.find((q) => q.Properties.RedriveAllowPolicy !== undefined);
    const queue = queues.find((q) => q.Properties.RedrivePolicy !== undefined);
    expect(queue?.Properties.QueueName).toBe('recording-vault-prod-transfer');
    expect(dlq?.Properties.RedriveAllowPolicy).toEqual({
      redrivePermission: 'byQueue',
      sourceQueueArns: [`arn:aws:sqs:${ENV.region}:${ENV.account}:recording-vault-prod-transfer`],
    });
  });

  test("every invoke permission names this account and the caller's ARN", () => {
    const permissions = Object.values(resources()).filter((r) => r.Type === 'AWS::Lambda::Permission');
    expect(permissions.length).toBeGreaterThanOrEqual(5);
    for (const p of permissions) {
      expect(p.Properties.SourceArn).toBeDefined();
      if (p.Properties.Principal === 'apigateway.amazonaws.com') expect(p.Properties.SourceAccount).toBe(ENV.account);
    }
  });
});
