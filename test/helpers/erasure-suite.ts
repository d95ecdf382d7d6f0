import type { ErasureRuntime } from '../../lambda/erasure/handler';
import { CALLS_TABLE, LEDGER_TABLE, RECORDINGS_BUCKET } from './emulators';
import { TEST_ACCOUNT_SID } from './twilio-fixtures';

/**
 * The erasure function's configuration on the emulators' tables and bucket. Suites inject a Twilio
 * double, so the base URL points at a port nothing listens on.
 */
export const ERASURE_TEST_CONFIG: ErasureRuntime['config'] = {
  accountSid: TEST_ACCOUNT_SID,
  bucketName: RECORDINGS_BUCKET,
  tableName: CALLS_TABLE,
  ledgerTableName: LEDGER_TABLE,
  eventBusName: 'test',
  twilioApiBaseUrl: 'http://127.0.0.1:9',
};
