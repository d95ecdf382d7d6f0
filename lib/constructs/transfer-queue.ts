import { Duration, Names, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface TransferQueueProps {
  /** Timeout of the consuming function; the visibility timeout is 6 × this (AWS's advice for SQS event sources). */
  readonly consumerTimeout: Duration;
  /** Receives of one message before it moves to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /** RETAIN keeps both queues (and the failed jobs in the DLQ) when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /** Encrypt both queues with this customer-managed key. @default - SQS-managed encryption (SSE-SQS) */
  readonly encryptionKey?: kms.IKey;
  /**
   * The transfer queue's name. Named, so that the dead-letter queue's redrive-allow policy can
   * name it (a reference would make the two queues depend on each other).
   * @default - a name made from the construct's path
   */
  readonly queueName?: string;
}

/** The transfer job queue and its dead-letter queue: encrypted (SSE-SQS, or SSE-KMS with the stage's key), TLS-only. */
export class TransferQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: TransferQueueProps) {
    super(scope, id);
    const queueName = props.queueName ?? Names.uniqueResourceName(this, { maxLength: 80, separator: '-' });
    const encryption =
      props.encryptionKey !== undefined
        ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
        : { encryption: sqs.QueueEncryption.SQS_MANAGED };
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      ...encryption,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy,
      // Only the transfer queue may send its failed jobs here (CT.SQS.PR.1).
      redriveAllowPolicy: {
        redrivePermission: sqs.RedrivePermission.BY_QUEUE,
        sourceQueues: [
          sqs.Queue.fromQueueArn(
            this,
            'SourceQueue',
            Stack.of(this).formatArn({ service: 'sqs', resource: queueName }),
          ),
        ],
      },
    });
    Validations.of(this.deadLetterQueue).acknowledge(
      {
        id: 'AwsSolutions-SQS3',
        reason: 'This is the dead-letter queue of the transfer queue; an alarm watches it and operators redrive it.',
      },
      {
        id: 'Serverless-SQSRedrivePolicy',
        reason: 'This is the dead-letter queue of the transfer queue; a DLQ of a DLQ would only hide failed jobs.',
      },
    );

    this.queue = new sqs.Queue(this, 'Queue', {
      ...encryption,
      queueName,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(props.consumerTimeout.toSeconds() * 6),
      // Shorter than the DLQ's 14 days: a message keeps its original enqueue time in the DLQ.
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
      removalPolicy: props.removalPolicy,
    });
  }
}
