import { TwilioApiError } from '../../../lambda/shared/twilio/rest-api';
import { classify, PermanentTransferError, RetryableTransferError } from '../../../lambda/transfer/transfer-errors';

/** An error shaped like the AWS SDK v3's service exceptions. */
function awsError(name: string, status: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, ...extra });
}

describe('classify', () => {
  it.each([
    ['DynamoDB throttling (400)', awsError('ProvisionedThroughputExceededException', 400)],
    ['a throttled API call (400)', awsError('ThrottlingException', 400)],
    ['S3 SlowDown (503)', awsError('SlowDown', 503)],
    ['any 5xx', awsError('InternalServerError', 500)],
    ['an error the SDK marks retryable', awsError('Whatever', 400, { $retryable: {} })],
  ])('retries %s', (_what, error) => {
    expect(classify(error)).toBeInstanceOf(RetryableTransferError);
  });

  it.each([
    ['access denied', awsError('AccessDenied', 403), 'aws-AccessDenied'],
    ['a missing table', awsError('ResourceNotFoundException', 400), 'aws-ResourceNotFoundException'],
    ['a missing bucket', awsError('NoSuchBucket', 404), 's3-404'],
  ])('gives up on %s, naming it', (_what, error, code) => {
    const classified = classify(error);

    expect(classified).toBeInstanceOf(PermanentTransferError);
    expect(classified.code).toBe(code);
  });

  it("follows the Twilio client's own verdict", () => {
    expect(classify(new TwilioApiError('404', 404, true, 'twilio-404'))).toBeInstanceOf(RetryableTransferError);
    expect(classify(new TwilioApiError('401', 401, false, 'twilio-401'))).toBeInstanceOf(PermanentTransferError);
  });

  it('retries a connection reset', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

    expect(classify(reset)).toMatchObject({ code: 'network' });
    expect(classify(reset)).toBeInstanceOf(RetryableTransferError);
  });
});
