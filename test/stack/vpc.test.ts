/**
 * The `vpc` stage option: the functions in private subnets of a new or an existing VPC, gateway
 * endpoints for S3 and DynamoDB, interface endpoints for SQS, Secrets Manager and EventBridge,
 * HTTPS-only egress; cdk-nag clean. And its validation: every problem named at once.
 */
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { parseStageConfig, StageConfigError } from '../../lib/config';
import { asList, type Json, logicalIdOf, resourcesOfType, type SynthesizedStage, synthStage } from './synth-stage';

const ENV = { account: '123456789012', region: 'us-east-1' } as const;
const SID = `AC${'0'.repeat(32)}`;

const existingVpc = {
  type: 'existing',
  vpcId: 'vpc-0123456789abcdef0',
  subnets: [
    { subnetId: 'subnet-0123456789abcdef0', availabilityZone: 'us-east-1a', routeTableId: 'rtb-0123456789abcdef0' },
    { subnetId: 'subnet-0123456789abcdef1', availabilityZone: 'us-east-1b', routeTableId: 'rtb-0123456789abcdef1' },
  ],
};

let created: SynthesizedStage;
let existing: SynthesizedStage;
let prod: SynthesizedStage;

beforeAll(() => {
  created = synthStage({ stage: 'vpc', base: 'prod', overrides: { vpc: { type: 'new' } }, env: ENV });
  existing = synthStage({ stage: 'vpc-existing', base: 'dev', overrides: { vpc: existingVpc }, env: ENV });
  prod = synthStage({ stage: 'prod', env: ENV });
});

const both = () =>
  [
    ['new VPC', () => created],
    ['existing VPC', () => existing],
  ] as const;

/** The vault's own functions: every Lambda function but CDK's deploy-time custom resource providers. */
function functionsOf(s: SynthesizedStage): Json[] {
  return resourcesOfType(s, 'AWS::Lambda::Function')
    .filter(([id]) => !id.startsWith('Custom'))
    .map(([, fn]) => fn);
}

const endpointServices = (s: SynthesizedStage, type: 'Gateway' | 'Interface') =>
  resourcesOfType(s, 'AWS::EC2::VPCEndpoint')
    .filter(([, e]) => (e.Properties.VpcEndpointType ?? 'Gateway') === type)
    .map(([, e]) => JSON.stringify(e.Properties.ServiceName).match(/\.(s3|dynamodb|sqs|secretsmanager|events)"/)?.[1])
    .sort();

describe.each(both())('%s', (_name, get) => {
  test('every function runs in the private subnets with the functions security group', () => {
    const s = get();
    const sg = logicalIdOf(s, s.stack.network?.functionsSecurityGroup as never);
    for (const fn of functionsOf(s)) {
      expect(fn.Properties.VpcConfig.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [sg, 'GroupId'] }]);
      expect(fn.Properties.VpcConfig.SubnetIds.length).toBeGreaterThanOrEqual(2);
    }
  });

  test('gateway endpoints for S3 and DynamoDB; interface endpoints for SQS, Secrets Manager and EventBridge', () => {
    expect(endpointServices(get(), 'Gateway')).toEqual(['dynamodb', 's3']);
    expect(endpointServices(get(), 'Interface')).toEqual(['events', 'secretsmanager', 'sqs']);
    for (const [, e] of resourcesOfType(get(), 'AWS::EC2::VPCEndpoint').filter(
      ([, x]) => x.Properties.VpcEndpointType === 'Interface',
    )) {
      expect(e.Properties.PrivateDnsEnabled).toBe(true);
    }
  });

  test('the functions may send HTTPS only; the endpoints accept HTTPS from the functions only', () => {
    const s = get();
    const network = s.stack.network;
    if (!network?.endpointsSecurityGroup) throw new Error('no network');
    const functionsSg = s.resources[logicalIdOf(s, network.functionsSecurityGroup)] as Json;
    expect(functionsSg.Properties.SecurityGroupEgress).toEqual([
      expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
    ]);
    expect(functionsSg.Properties.SecurityGroupIngress).toBeUndefined();
    const endpointsId = logicalIdOf(s, network.endpointsSecurityGroup);
    const ingress = resourcesOfType(s, 'AWS::EC2::SecurityGroupIngress').filter(
      ([, r]) => r.Properties.GroupId['Fn::GetAtt']?.[0] === endpointsId,
    );
    expect(ingress.map(([, r]) => r.Properties)).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        SourceSecurityGroupId: { 'Fn::GetAtt': [logicalIdOf(s, network.functionsSecurityGroup), 'GroupId'] },
      }),
    ]);
    // No other security group rule in the stack opens anything.
    expect(resourcesOfType(s, 'AWS::EC2::SecurityGroupEgress')).toEqual([]);
  });

  test('each role may manage network interfaces (for Lambda), in a policy of its own', () => {
    const s = get();
    const policies = resourcesOfType(s, 'AWS::IAM::Policy').filter(([, p]) =>
      (p.Properties.PolicyDocument.Statement as Json[]).some((st) =>
        asList(st.Action).includes('ec2:CreateNetworkInterface'),
      ),
    );
    // One per function: every function of the stack sits in the VPC.
    expect(policies).toHaveLength(functionsOf(s).length);
    for (const fn of functionsOf(s)) {
      expect(asList(fn.DependsOn)).toEqual(expect.arrayContaining([expect.stringMatching(/NetworkInterfaces/)]));
    }
  });

  test('cdk-nag: no unacknowledged finding', () => {
    const violations = [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
      pack
        .validateScope(get().stack)
        .violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
    );
    expect(violations).toEqual([]);
  });
});

test('new VPC: NAT gateway for Twilio, private subnets for the functions, flow logs under the stage key', () => {
  expect(resourcesOfType(created, 'AWS::EC2::NatGateway')).toHaveLength(1);
  expect(resourcesOfType(created, 'AWS::EC2::Subnet')).toHaveLength(4);
  for (const [, subnet] of resourcesOfType(created, 'AWS::EC2::Subnet')) {
    expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
  }
  const [flowLog] = resourcesOfType(created, 'AWS::EC2::FlowLog');
  expect(flowLog?.[1].Properties.TrafficType).toBe('ALL');
  const key = logicalIdOf(created, created.stack.vaultKey?.key as never);
  const groups = resourcesOfType(created, 'AWS::Logs::LogGroup');
  for (const [, group] of groups) expect(group.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [key, 'Arn'] });
});

test('existing VPC: nothing of the network is created but endpoints and security groups', () => {
  for (const type of ['AWS::EC2::VPC', 'AWS::EC2::Subnet', 'AWS::EC2::NatGateway', 'AWS::EC2::InternetGateway']) {
    expect(resourcesOfType(existing, type)).toEqual([]);
  }
  const gateways = resourcesOfType(existing, 'AWS::EC2::VPCEndpoint').filter(
    ([, e]) => e.Properties.VpcEndpointType === undefined || e.Properties.VpcEndpointType === 'Gateway',
  );
  for (const [, g] of gateways) {
    expect(g.Properties.VpcId).toBe(existingVpc.vpcId);
    expect(g.Properties.RouteTableIds).toEqual(existingVpc.subnets.map((s) => s.routeTableId));
  }
});

test('existing VPC with createEndpoints false: no endpoints, the functions still in its subnets', () => {
  const s = synthStage({
    stage: 'vpc-central',
    base: 'dev',
    overrides: { vpc: { ...existingVpc, createEndpoints: false } },
    env: ENV,
  });
  expect(resourcesOfType(s, 'AWS::EC2::VPCEndpoint')).toEqual([]);
  for (const fn of functionsOf(s)) {
    expect(fn.Properties.VpcConfig.SubnetIds).toEqual(existingVpc.subnets.map((x) => x.subnetId));
  }
});

test('a stage without vpc has no network and no function in a VPC', () => {
  expect(prod.stack.network).toBeUndefined();
  expect(resourcesOfType(prod, 'AWS::EC2::VPCEndpoint')).toEqual([]);
  for (const fn of functionsOf(prod)) expect(fn.Properties.VpcConfig).toBeUndefined();
});

describe('vpc option validation', () => {
  const problems = (vpc: unknown): readonly string[] => {
    try {
      parseStageConfig('x', { twilioAccountSid: SID, vpc });
    } catch (e) {
      if (e instanceof StageConfigError) return e.problems;
      throw e;
    }
    return [];
  };

  test('defaults: a new 10.0.0.0/16 VPC in two AZs with one NAT gateway', () => {
    expect(parseStageConfig('x', { twilioAccountSid: SID, vpc: {} }).vpc).toEqual({
      type: 'new',
      cidr: '10.0.0.0/16',
      maxAzs: 2,
      natGateways: 1,
    });
    expect(parseStageConfig('x', { twilioAccountSid: SID, vpc: existingVpc }).vpc).toEqual({
      ...existingVpc,
      createEndpoints: true,
    });
  });

  test('every problem of a new VPC is named at once', () => {
    expect(problems({ type: 'new', cidr: '10.0.0.0/8', maxAzs: 4, natGateways: 0 })).toEqual([
      'vpc.cidr must be an IPv4 CIDR from /16 to /24 (got "10.0.0.0/8")',
      'vpc.maxAzs must be a whole number from 2 to 3 (got 4)',
      'vpc.natGateways must be a whole number from 1 to 3 (got 0)',
    ]);
    expect(problems({ maxAzs: 2, natGateways: 3 })).toEqual([
      'vpc.natGateways must not exceed maxAzs (one NAT gateway per AZ at most)',
    ]);
  });

  test('every problem of an existing VPC is named at once, with its path', () => {
    expect(
      problems({
        type: 'existing',
        vpcId: 'vpc-1',
        subnets: [{ subnetId: 'subnet-0123456789abcdef0', availabilityZone: 'us-east-1a' }, { subnetId: 'x' }],
        createEndpoints: 'yes',
      }),
    ).toEqual([
      'vpc.vpcId must be a VPC id (vpc-…) (got "vpc-1")',
      'vpc.subnets.0.routeTableId is required',
      'vpc.subnets.1.subnetId must be a subnet id (subnet-…) (got "x")',
      'vpc.subnets.1.availabilityZone is required',
      'vpc.subnets.1.routeTableId is required',
      'vpc.createEndpoints must be true or false (got "yes")',
    ]);
  });

  test('an existing VPC needs two subnets in two availability zones; the type must be known', () => {
    expect(problems({ ...existingVpc, subnets: existingVpc.subnets.slice(0, 1) })).toEqual([
      'vpc.subnets must name at least two subnets, in different availability zones',
    ]);
    const sameZone = existingVpc.subnets.map((s) => ({ ...s, availabilityZone: 'us-east-1a' }));
    expect(problems({ ...existingVpc, subnets: sameZone })).toEqual([
      'vpc.subnets must be in at least two availability zones',
    ]);
    expect(problems({ type: 'shared' })).toEqual(['vpc.type must be one of new, existing (got "shared")']);
  });
});
