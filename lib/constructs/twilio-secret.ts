import { type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';

export interface TwilioSecretProps {
  readonly stage: string;
  /** An existing secret to use by name; unset: one is created. */
  readonly secretName?: string;
  readonly removalPolicy: RemovalPolicy;
}

export interface TwilioSecret {
  readonly secret: secretsmanager.ISecret;
  /** What the functions are told to read: the created secret's ARN, or the imported secret's name. */
  readonly secretId: string;
}

/**
 * The Twilio auth token(s): JSON `{"authToken":"…","authTokenSecondary":"…"}` (plus
 * `"accounts":{"AC…":"token"}` for a stage's subaccounts, docs/accounts-and-regions.md), set by an operator
 * with `aws secretsmanager put-secret-value`. A created secret starts with a generated non-JSON
 * value, which the functions treat as "not set": the webhook answers 500 and logs how to set it,
 * and the 5xx alarm fires, until an operator stores the token. Never a value in the template.
 * Created directly in `scope` (not in a construct of its own) so that its logical id, and with it
 * the stored token, survive this refactoring.
 */
export function twilioSecret(scope: Construct, id: string, props: TwilioSecretProps): TwilioSecret {
  if (props.secretName !== undefined) {
    return {
      secret: secretsmanager.Secret.fromSecretNameV2(scope, id, props.secretName),
      secretId: props.secretName,
    };
  }
  const secret = new secretsmanager.Secret(scope, id, {
    description: `Twilio auth token(s) of Recording Vault (${props.stage}): JSON {"authToken":"…","authTokenSecondary":"…","accounts":{"AC…":"subaccount token"}}. Set with aws secretsmanager put-secret-value.`,
    removalPolicy: props.removalPolicy,
  });
  Validations.of(secret).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason:
      'The value is a Twilio auth token: it is rotated in the Twilio console, then stored here (the functions accept authTokenSecondary during the change). Secrets Manager cannot rotate it.',
  });
  return { secret, secretId: secret.secretArn };
}
