/**
 * What a suite that runs the real transfer handler in-process needs: the emulators and a
 * simulated Twilio, SQS mocked (only ChangeMessageVisibility and the dead-letter send), and the
 * transfer function's configuration pointing at both.
 */
import { ChangeMessageVisibilityCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import type { TransferRuntime } from '../../lambda/transfer/handler';
import { SimulatedTwilio } from '../../lib/simulated-twilio';
import {
  CALL_SID_INDEX,
  CALLS_TABLE,
  type Emulators,
  LEDGER_TABLE,
  RECORDINGS_BUCKET,
  startEmulators,
} from './emulators';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from './twilio-fixtures';

type TransferTestConfig = TransferRuntime['config'];

/** A stage that prefers mp3 and keeps Twilio's copy, on the emulators' table and bucket. */
export const TRANSFER_TEST_CONFIG = {
  accountSid: TEST_ACCOUNT_SID,
  bucketName: RECORDINGS_BUCKET,
  tableName: CALLS_TABLE,
  ledgerTableName: LEDGER_TABLE,
  eventBusName: 'test',
  callSidIndexName: CALL_SID_INDEX,
  recordingFormat: 'mp3',
  deleteFromTwilioAfterCopy: false,
  transferQueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/recording-transfer',
  deadLetterQueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/recording-transfer-dlq',
  maxAttempts: 3,
  retryBaseSeconds: 30,
  leaseSeconds: 300,
} as const satisfies Omit<TransferTestConfig, 'twilioApiBaseUrl'>;

/** TRANSFER_TEST_CONFIG with the simulated Twilio's address, and `overrides`. */
export function transferTestConfig(
  twilioApiBaseUrl: string,
  overrides: Partial<TransferTestConfig> = {},
): TransferTestConfig {
  return { ...TRANSFER_TEST_CONFIG, twilioApiBaseUrl, ...overrides };
}

/** The emulators and a simulated Twilio of the test account, started side by side. */
export function startTransferDoubles(): Promise<[Emulators, SimulatedTwilio]> {
  return Promise.all([
    startEmulators(),
    SimulatedTwilio.start({ accountSid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN }),
  ]);
}

/** Forgets the calls made so far; accepts visibility changes and the dead-letter send. */
export function resetTransferSqs(sqs: AwsClientStub<SQSClient>): void {
  sqs.reset();
  sqs.on(ChangeMessageVisibilityCommand).resolves({});
  sqs.on(SendMessageCommand).resolves({ MessageId: 'dead-letter' });
}
