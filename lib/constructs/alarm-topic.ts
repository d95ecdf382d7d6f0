import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { cloudWatchAlarmsPrincipal, denyGrantsExceptForAwsServices } from './key-policies';

export interface AlarmTopicProps {
  /** Who gets the alarm e-mails. Unset: the topic exists without subscription. */
  readonly alarmEmail?: string;
  readonly removalPolicy: RemovalPolicy;
  /**
   * Encrypt the topic with this customer-managed key (CloudWatch is allowed to use it).
   * @default - a key of the topic's own
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The alarm topic (KMS-encrypted with a customer-managed key that CloudWatch may use; the
 * AWS-managed SNS key would not let CloudWatch publish) and helpers to add alarms to it.
 */
export class AlarmTopic extends Construct {
  readonly topic: sns.Topic;
  /** The topic's key: the stage's key when given, else the topic's own. */
  readonly key: kms.IKey;
  private readonly action: SnsAction;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    this.key =
      props.encryptionKey ??
      new kms.Key(this, 'TopicKey', {
        description: 'Encrypts the Recording Vault alarm topic',
        enableKeyRotation: true,
        removalPolicy: props.removalPolicy,
      });
    if (props.encryptionKey === undefined) denyGrantsExceptForAwsServices(this.key);
    // Key policy: CloudWatch publishes this account's alarm notifications to the encrypted topic.
    this.key.grant(cloudWatchAlarmsPrincipal(this), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'Recording Vault alarms',
      masterKey: this.key,
      enforceSSL: true,
    });
    if (props.alarmEmail !== undefined) {
      const subscription = this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
      Validations.of(subscription).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason:
          'E-mail notification of an alarm: a failed delivery leaves the alarm in ALARM state in CloudWatch (the source of truth); a dead-letter queue for alarm e-mails would itself need watching.',
      });
    }
    this.action = new SnsAction(this.topic);
  }

  /** An alarm when `metric` reaches `threshold` in one period; notifies on ALARM and OK. */
  addThresholdAlarm(
    id: string,
    metric: cloudwatch.IMetric,
    options: { readonly threshold?: number; readonly description: string },
  ): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold: options.threshold ?? 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: options.description,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    return alarm;
  }
}

/** Default period of the alarm metrics. */
export const ALARM_PERIOD = Duration.minutes(5);
