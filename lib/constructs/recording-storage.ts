import { Annotations, type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { LifecycleConfig, ObjectLockConfig } from '../config';

/** Key prefix of every recording object: `recordings/{YYYY}/{MM}/{callId}/{RecordingSid}.{ext}`. */
export const RECORDINGS_PREFIX = 'recordings/';

export interface RecordingStorageProps {
  /** Keep old object versions (with expiry of non-current versions from `lifecycle`). */
  readonly versioned: boolean;
  readonly lifecycle: LifecycleConfig;
  /** DESTROY also empties the buckets on stack deletion (autoDeleteObjects). */
  readonly removalPolicy: RemovalPolicy;
  /** Days to keep S3 server access logs. */
  readonly accessLogExpireDays: number;
  /**
   * Encrypt the recordings with this customer-managed key (SSE-KMS with bucket keys).
   * The access log bucket stays SSE-S3: server access logging cannot deliver to SSE-KMS buckets.
   * @default - SSE-S3
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Object Lock with this default retention for every new object version. Requires `versioned`;
   * cannot be turned off once the bucket exists. @default - no Object Lock
   */
  readonly objectLock?: ObjectLockConfig;
}

/**
 * The private recordings bucket and the bucket receiving its server access logs.
 * Both: all public access blocked, TLS-only bucket policy, objects owned by the bucket owner,
 * SSE-S3 (the recordings: SSE-KMS when a key is given).
 */
export class RecordingStorage extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  /**
   * The bucket's Object Lock default retention, unset without Object Lock. An erasure must
   * expect S3 to refuse deleting a version before its retain-until date (COMPLIANCE: always;
   * GOVERNANCE: unless it may and does bypass governance retention).
   */
  readonly objectLock?: ObjectLockConfig;

  constructor(scope: Construct, id: string, props: RecordingStorageProps) {
    super(scope, id);
    const destroy = props.removalPolicy === RemovalPolicy.DESTROY;
    if (props.objectLock !== undefined && !props.versioned) {
      throw new Error(`${this.node.path}: Object Lock requires a versioned bucket`);
    }
    this.objectLock = props.objectLock;

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Versioned: a log deleted or overwritten stays recoverable for 30 days (CT.S3.PR.11).
      versioned: true,
      lifecycleRules: [
        { id: 'expire-access-logs', expiration: Duration.days(props.accessLogExpireDays) },
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        { id: 'expire-noncurrent-versions', noncurrentVersionExpiration: Duration.days(30) },
        { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true },
      ],
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: destroy,
    });
    Validations.of(this.accessLogBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the server access log bucket of the recordings bucket; logging it into itself or another bucket adds nothing.',
    });

    const transitions: s3.Transition[] = [];
    if (props.lifecycle.infrequentAccessAfterDays !== undefined) {
      transitions.push({
        storageClass: s3.StorageClass.INFREQUENT_ACCESS,
        transitionAfter: Duration.days(props.lifecycle.infrequentAccessAfterDays),
      });
    }
    if (props.lifecycle.glacierAfterDays !== undefined) {
      transitions.push({
        storageClass: s3.StorageClass.GLACIER,
        transitionAfter: Duration.days(props.lifecycle.glacierAfterDays),
      });
    }

    const lifecycleRules: s3.LifecycleRule[] = [
      // The transfer streams recordings with multipart uploads; a crashed upload must not leave parts behind.
      { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
    ];
    if (transitions.length > 0) {
      // Storage classes only: recordings are never expired by S3, only by the retention sweep
      // (stage `retention.days`), which erases them through the ledger.
      lifecycleRules.push({ id: 'recordings-storage-class', prefix: RECORDINGS_PREFIX, transitions });
    }
    if (props.versioned) {
      lifecycleRules.push(
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(props.lifecycle.noncurrentVersionExpireAfterDays),
        },
        { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true },
      );
    }

    this.bucket = new s3.Bucket(this, 'Recordings', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // Bucket keys: S3 asks KMS for a bucket-level data key now and then instead of once per object.
      ...(props.encryptionKey !== undefined
        ? { encryption: s3.BucketEncryption.KMS, encryptionKey: props.encryptionKey, bucketKeyEnabled: true }
        : { encryption: s3.BucketEncryption.S3_MANAGED }),
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: props.versioned,
      lifecycleRules,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'recordings-bucket/',
      ...(props.objectLock !== undefined ? objectLockProps(props.objectLock) : {}),
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: destroy,
    });
    // Object events go to the account's default EventBridge bus, for the owner's own monitoring
    // (CT.S3.PR.4); set on the bucket itself, as CDK's eventBridgeEnabled would add a function.
    (this.bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
    if (props.objectLock !== undefined && destroy) {
      Annotations.of(this.bucket).addWarningV2(
        'recording-vault:objectLockBlocksDestroy',
        'Object Lock with removalPolicy "destroy": deleting the stack cannot empty the bucket while versions are retained (COMPLIANCE: until their retention ends), so the stack deletion fails there.',
      );
    }
  }

  /** ARN pattern of the recording objects (the only objects any function may touch). */
  recordingObjectsArn(): string {
    return this.bucket.arnForObjects(`${RECORDINGS_PREFIX}*`);
  }

  /**
   * Acknowledges cdk-nag's IAM5 for `role`'s object permissions on `recordings/*`: keys are per
   * call and recording, known only at run time, so the prefix is as narrow as it gets.
   */
  acknowledgeRecordingsPrefix(role: iam.IRole, reason: string): void {
    const policy = role.node.tryFindChild('DefaultPolicy');
    if (!policy) return;
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnElement);
    Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/recordings/*]`, reason });
  }
}

function objectLockProps(
  lock: ObjectLockConfig,
): Pick<s3.BucketProps, 'objectLockEnabled' | 'objectLockDefaultRetention'> {
  const duration = Duration.days(lock.retentionDays);
  return {
    objectLockEnabled: true,
    objectLockDefaultRetention:
      lock.mode === 'COMPLIANCE'
        ? s3.ObjectLockRetention.compliance(duration)
        : s3.ObjectLockRetention.governance(duration),
  };
}
