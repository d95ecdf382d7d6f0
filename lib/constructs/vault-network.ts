import { type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { VpcConfig } from '../config';
import type { FunctionNetwork } from './vault-function';

/**
 * The interface endpoints the functions need: the AWS APIs they call themselves. S3 and DynamoDB
 * go through gateway endpoints. Not here: CloudWatch Logs, metrics and X-Ray (Lambda delivers
 * logs, EMF metrics travel in the logs, and no function sends trace segments itself) and KMS
 * (S3, DynamoDB, SQS, Secrets Manager and EventBridge call KMS themselves for SSE-KMS).
 */
export const INTERFACE_ENDPOINTS = {
  Sqs: ec2.InterfaceVpcEndpointAwsService.SQS,
  SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
  EventBridge: ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
} as const;

/** The actions of the AWSLambdaVPCAccessExecutionRole managed policy (without its log rights). */
const NETWORK_INTERFACE_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
];

export interface VaultNetworkProps {
  readonly config: VpcConfig;
  /** Flow logs (new VPC): retention, removal and key of their log group. */
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  readonly logEncryptionKey?: kms.IKey;
}

/**
 * Private subnets for the functions (`vpc` stage option): a new VPC (public subnets with NAT
 * gateways, private subnets, flow logs) or an existing one; gateway endpoints for S3 and
 * DynamoDB, interface endpoints for SQS, Secrets Manager and EventBridge; and one security group
 * for the functions whose only egress is HTTPS (Twilio through the NAT, AWS through the endpoints).
 */
export class VaultNetwork extends Construct implements FunctionNetwork {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroups: readonly ec2.ISecurityGroup[];
  readonly functionsSecurityGroup: ec2.SecurityGroup;
  /** Unset for an existing VPC with `createEndpoints: false`. */
  readonly endpointsSecurityGroup?: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: VaultNetworkProps) {
    super(scope, id);
    const config = props.config;

    if (config.type === 'new') {
      const vpc = new ec2.Vpc(this, 'Vpc', {
        ipAddresses: ec2.IpAddresses.cidr(config.cidr),
        maxAzs: config.maxAzs,
        natGateways: config.natGateways,
        subnetConfiguration: [
          { name: 'nat', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 26, mapPublicIpOnLaunch: false },
          { name: 'functions', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        ],
      });
      const flowLogs = new logs.LogGroup(this, 'FlowLogs', {
        retention: props.logRetention,
        removalPolicy: props.removalPolicy,
        encryptionKey: props.logEncryptionKey,
      });
      vpc.addFlowLog('FlowLog', {
        destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
        trafficType: ec2.FlowLogTrafficType.ALL,
      });
      this.vpc = vpc;
      this.subnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    } else {
      const zones = [...new Set(config.subnets.map((s) => s.availabilityZone))];
      this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: config.vpcId, availabilityZones: zones });
      this.subnets = {
        subnets: config.subnets.map((s) =>
          ec2.Subnet.fromSubnetAttributes(this, s.subnetId, {
            subnetId: s.subnetId,
            availabilityZone: s.availabilityZone,
            routeTableId: s.routeTableId,
          }),
        ),
      };
    }

    this.functionsSecurityGroup = new ec2.SecurityGroup(this, 'Functions', {
      vpc: this.vpc,
      description: 'Recording Vault functions: HTTPS out only (Twilio through NAT, AWS through the endpoints)',
      allowAllOutbound: false,
    });
    this.functionsSecurityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'HTTPS: Twilio (its addresses are not fixed) and AWS services',
    );
    this.securityGroups = [this.functionsSecurityGroup];

    if (config.type === 'new' || config.createEndpoints) {
      for (const [name, service] of [
        ['S3', ec2.GatewayVpcEndpointAwsService.S3],
        ['DynamoDb', ec2.GatewayVpcEndpointAwsService.DYNAMODB],
      ] as const) {
        new ec2.GatewayVpcEndpoint(this, name, { vpc: this.vpc, service, subnets: [this.subnets] });
      }
      const endpoints = new ec2.SecurityGroup(this, 'Endpoints', {
        vpc: this.vpc,
        description: 'Recording Vault interface endpoints: HTTPS from the functions only',
        allowAllOutbound: false,
      });
      endpoints.addIngressRule(this.functionsSecurityGroup, ec2.Port.tcp(443), 'HTTPS from the functions');
      this.endpointsSecurityGroup = endpoints;
      for (const [name, service] of Object.entries(INTERFACE_ENDPOINTS)) {
        new ec2.InterfaceVpcEndpoint(this, name, {
          vpc: this.vpc,
          service,
          subnets: this.subnets,
          securityGroups: [endpoints],
          privateDnsEnabled: true,
          open: false,
        });
      }
    }
  }

  grantNetworkInterfaces(scope: Construct, role: iam.IRole): iam.Policy {
    const policy = new iam.Policy(scope, 'NetworkInterfaces', {
      statements: [new iam.PolicyStatement({ actions: NETWORK_INTERFACE_ACTIONS, resources: ['*'] })],
    });
    policy.attachToRole(role);
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "Lambda creates and deletes the function's network interfaces in the VPC with these rights (those of AWSLambdaVPCAccessExecutionRole); EC2 offers no resource-level scope for the Describe actions and the interfaces' ids are not known in advance.",
    });
    return policy;
  }
}
