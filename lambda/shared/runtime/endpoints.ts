/**
 * Client settings for S3-, DynamoDB- and SQS-compatible emulators. They apply only when the
 * standard `AWS_ENDPOINT_URL_<SERVICE>` variable points somewhere other than AWS: path-style S3,
 * checksums only where required (emulators reject the SDK's default CRC32), and dummy
 * credentials when none are set. Against AWS this returns nothing and the SDK defaults stand.
 */
export type EmulatedService = 'S3' | 'DYNAMODB' | 'SQS';

type Env = Readonly<Record<string, string | undefined>>;

export function isAwsEndpoint(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname;
    return host.endsWith('.amazonaws.com') || host.endsWith('.amazonaws.com.cn') || host.endsWith('.api.aws');
  } catch {
    return false;
  }
}

export function emulatorEndpoint(service: EmulatedService, env: Env = process.env): string | undefined {
  const endpoint = env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL;
  return endpoint && !isAwsEndpoint(endpoint) ? endpoint : undefined;
}

export function clientOverrides(service: EmulatedService, env: Env = process.env): Record<string, unknown> {
  const endpoint = emulatorEndpoint(service, env);
  if (!endpoint) return {};
  const overrides: Record<string, unknown> = {
    endpoint,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
  };
  if (!env.AWS_ACCESS_KEY_ID && !env.AWS_PROFILE) {
    overrides.credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  }
  if (service === 'S3') {
    overrides.forcePathStyle = true;
    overrides.requestChecksumCalculation = 'WHEN_REQUIRED';
    overrides.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  return overrides;
}
