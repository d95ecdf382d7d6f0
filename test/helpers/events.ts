/**
 * Builders for the Lambda events the handlers receive: API Gateway HTTP API (payload 2.0)
 * requests, signed Twilio callbacks, and SQS batches. Defaults mirror what AWS sends.
 */
import type { APIGatewayProxyEventV2, SQSEvent, SQSRecord } from 'aws-lambda';
import { formBody, type SignedParams, TEST_AUTH_TOKEN, twilioSignature } from './twilio-fixtures';

export interface HttpEventOptions {
  readonly method?: string;
  /** The route key, e.g. `POST /twilio/recording`; defaults to `{method} {path}`. */
  readonly routeKey?: string;
  /** Path without the stage prefix; the stage prefix is added to `rawPath` for a named stage. */
  readonly path: string;
  readonly stage?: string;
  readonly domainName?: string;
  readonly headers?: Record<string, string>;
  readonly rawQueryString?: string;
  readonly queryStringParameters?: Record<string, string>;
  readonly pathParameters?: Record<string, string>;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
}

export const DEFAULT_DOMAIN = 'abc123.execute-api.us-east-1.amazonaws.com';

/** An HTTP API payload 2.0 event. `rawPath` carries `/{stage}` for a named stage, none for `$default`. */
export function httpApiEvent(options: HttpEventOptions): APIGatewayProxyEventV2 {
  const method = options.method ?? 'GET';
  const stage = options.stage ?? '$default';
  const domainName = options.domainName ?? DEFAULT_DOMAIN;
  const rawPath = stage === '$default' ? options.path : `/${stage}${options.path}`;
  const rawQueryString = options.rawQueryString ?? '';
  return {
    version: '2.0',
    routeKey: options.routeKey ?? `${method} ${options.path}`,
    rawPath,
    rawQueryString,
    headers: { host: domainName, 'x-forwarded-proto': 'https', ...options.headers },
    queryStringParameters: options.queryStringParameters,
    pathParameters: options.pathParameters,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'TwilioProxy/1.1' },
      requestId: 'req-1',
      routeKey: options.routeKey ?? `${method} ${options.path}`,
      stage,
      time: '22/Jul/2024:17:00:00 +0000',
      timeEpoch: Date.UTC(2024, 6, 22, 17),
    },
    body: options.body,
    isBase64Encoded: options.isBase64Encoded ?? false,
  };
}

export interface TwilioCallbackEventOptions {
  readonly params: SignedParams;
  /** Token to sign with; default the test primary token. */
  readonly token?: string;
  /** The URL Twilio called (signed); default `https://{DEFAULT_DOMAIN}/twilio/recording`. */
  readonly signedUrl?: string;
  /** Overrides the computed signature; `null` sends no X-Twilio-Signature header. */
  readonly signature?: string | null;
  readonly path?: string;
  readonly stage?: string;
  readonly domainName?: string;
  readonly rawQueryString?: string;
  readonly headers?: Record<string, string>;
  /** Send the body base64-encoded, as HTTP API may. */
  readonly base64?: boolean;
  /** Replaces the encoded form body (the signature still covers `params`). */
  readonly body?: string;
}

/** A `POST /twilio/recording` event signed the way Twilio signs it. */
export function twilioCallbackEvent(options: TwilioCallbackEventOptions): APIGatewayProxyEventV2 {
  const domainName = options.domainName ?? DEFAULT_DOMAIN;
  const path = options.path ?? '/twilio/recording';
  const stage = options.stage ?? '$default';
  const query = options.rawQueryString ? `?${options.rawQueryString}` : '';
  const stagePrefix = stage === '$default' ? '' : `/${stage}`;
  const signedUrl = options.signedUrl ?? `https://${domainName}${stagePrefix}${path}${query}`;
  const signature =
    options.signature === undefined
      ? twilioSignature(options.token ?? TEST_AUTH_TOKEN, signedUrl, options.params)
      : options.signature;
  const body = options.body ?? formBody(options.params);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
    'i-twilio-idempotency-token': 'idem-1',
    ...(signature === null ? {} : { 'x-twilio-signature': signature }),
    ...options.headers,
  };
  return httpApiEvent({
    method: 'POST',
    routeKey: 'POST /twilio/recording',
    path,
    stage,
    domainName,
    rawQueryString: options.rawQueryString,
    headers,
    body: options.base64 ? Buffer.from(body, 'utf8').toString('base64') : body,
    isBase64Encoded: options.base64 ?? false,
  });
}

export interface SqsRecordOptions {
  readonly messageId?: string;
  /** ApproximateReceiveCount: 1 on the first delivery. */
  readonly receiveCount?: number;
  readonly receiptHandle?: string;
}

let messageCounter = 0;

/** One SQS record carrying `body` (a job object is JSON-encoded). */
export function sqsRecord(body: unknown, options: SqsRecordOptions = {}): SQSRecord {
  messageCounter += 1;
  const messageId = options.messageId ?? `msg-${messageCounter}-${Date.now()}`;
  return {
    messageId,
    receiptHandle: options.receiptHandle ?? `rh-${messageId}-${options.receiveCount ?? 1}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: String(Date.now()),
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:recording-transfer',
    awsRegion: 'us-east-1',
  };
}

export function sqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}
