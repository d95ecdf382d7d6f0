/**
 * The AWS Control Tower proactive controls a stage may fail, each with its reason. Nothing else
 * may fail (test/stack/control-tower.test.ts). Control Tower reads no resource metadata, so these
 * cannot be marked on the resources: in a governed account each one needs the control turned off
 * for the stack's OU or accepted as the stage's choice. Listed in docs/governed-accounts.md.
 */
import type { StageConfig } from '../../lib/config';

export interface ControlTowerException {
  /** The control, e.g. `CT.LAMBDA.PR.3`. */
  readonly control: string;
  /** Logical ids of the resources it holds for (CDK adds an 8-character hash to each). */
  readonly resource: RegExp;
  /** The stages it holds for. @default every stage */
  readonly when?: (config: StageConfig) => boolean;
  readonly reason: string;
}

const HASH = '[0-9A-F]{8}$';
const ACCESS_LOG_BUCKET = new RegExp(`^StorageAccessLogs${HASH}`);
const RECORDINGS_BUCKET = new RegExp(`^StorageRecordings${HASH}`);
/** Every log group of the stack: the functions', the API's access logs and the VPC flow logs. */
const LOG_GROUPS = new RegExp(`^[A-Za-z0-9]+Logs${HASH}`);

export const CONTROL_TOWER_EXCEPTIONS: readonly ControlTowerException[] = [
  {
    control: 'CT.APIGATEWAY.PR.5',
    resource: new RegExp(`^ApiHttpApiPOSTtwiliorecording${HASH}`),
    reason:
      'The Twilio webhook route: Twilio sends no IAM or JWT credentials. The function checks X-Twilio-Signature on every request and answers 403 otherwise; no setting turns that off.',
  },
  {
    control: 'CT.APIGATEWAY.PR.5',
    resource: new RegExp(`^ApiHttpApiGET(consolejs|consolecss|configjson)?${HASH}`),
    reason:
      "The console's page and its assets (`/`, `/console.js`, `/console.css`, `/config.json`): a browser loads them before anyone signs in. They hold no recording data; every call the page makes goes to the authorized routes.",
  },
  {
    control: 'CT.LAMBDA.PR.3',
    resource: new RegExp(
      `^(Webhook|TransferWorker|RecordingsRead|Erasure|Hold|Retention|Reconciler|Console|AuditRead)Function${HASH}`,
    ),
    when: (c) => c.vpc === undefined,
    reason: 'A stage without the `vpc` option runs its functions outside any VPC; set `vpc` where the control is on.',
  },
  {
    control: 'CT.LAMBDA.PR.3',
    resource: new RegExp(`^Custom(S3AutoDeleteObjects|VpcRestrictDefaultSG)CustomResourceProviderHandler${HASH}`),
    reason:
      "CDK's own deploy-time providers (emptying buckets on stack deletion in `destroy` stages; removing the rules of a new VPC's default security group). They run only while CloudFormation deploys or deletes, and CDK offers no VPC placement for them.",
  },
  {
    control: 'CT.CLOUDWATCH.PR.2',
    resource: LOG_GROUPS,
    when: (c) => c.logRetentionDays < 365,
    reason: 'The stage keeps its logs fewer than 365 days (`logRetentionDays`), by choice (dev: 14 days).',
  },
  {
    control: 'CT.CLOUDWATCH.PR.3',
    resource: LOG_GROUPS,
    when: (c) => c.encryption === 's3-managed',
    reason:
      'An `s3-managed` stage has no customer-managed key: CloudWatch Logs encrypts its log groups with its own keys. `encryption: "kms"` encrypts every log group with the stage key.',
  },
  {
    control: 'CT.S3.PR.10',
    resource: RECORDINGS_BUCKET,
    when: (c) => c.encryption === 's3-managed',
    reason: 'An `s3-managed` stage encrypts recordings with SSE-S3, by choice; `encryption: "kms"` uses the stage key.',
  },
  {
    control: 'CT.S3.PR.10',
    resource: ACCESS_LOG_BUCKET,
    reason: 'S3 delivers server access logs only to a bucket encrypted with SSE-S3, never SSE-KMS.',
  },
  {
    control: 'CT.S3.PR.2',
    resource: ACCESS_LOG_BUCKET,
    reason: 'The server access log bucket itself: logging it into itself or into another bucket adds nothing.',
  },
  {
    control: 'CT.S3.PR.4',
    resource: ACCESS_LOG_BUCKET,
    reason:
      'The server access log bucket: an event per log delivery would be noise. The recordings bucket sends its events to EventBridge.',
  },
  {
    control: 'CT.S3.PR.9',
    resource: RECORDINGS_BUCKET,
    when: (c) => c.objectLock === undefined,
    reason:
      'Object Lock is the stage option `objectLock`: once on it cannot be turned off, and it keeps erasure from deleting recordings before their retention ends, so the owner decides.',
  },
  {
    control: 'CT.S3.PR.9',
    resource: ACCESS_LOG_BUCKET,
    reason:
      'The server access log bucket: Object Lock cannot be turned off once on; the logs are versioned instead (a deleted or overwritten log stays 30 days) and expire with the stage. The vault offers the lock for the recordings (`objectLock`).',
  },
  {
    control: 'CT.S3.PR.11',
    resource: RECORDINGS_BUCKET,
    when: (c) => !c.bucketVersioning,
    reason: 'The stage turned versioning off (`bucketVersioning: false`, dev), by choice.',
  },
];

/** The exception that excuses `control` failing on `resource` in a stage with `config`, if any. */
export function exceptionFor(
  control: string,
  resource: string,
  config: StageConfig,
): ControlTowerException | undefined {
  return CONTROL_TOWER_EXCEPTIONS.find(
    (e) => e.control === control && e.resource.test(resource) && (e.when?.(config) ?? true),
  );
}
