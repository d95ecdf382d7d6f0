import { Duration } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ENV } from '../../lambda/shared/config/env-names';
import type { PlaybackAuthConfig } from '../config';
import { buildConsoleAssets } from '../console-bundle';
import type { RecordingStorage } from './recording-storage';
import { type FunctionLogProps, VaultFunction } from './vault-function';

export interface ConsoleFunctionProps extends FunctionLogProps {
  readonly entry: string;
  /** How the stage's API authenticates: the console signs in the same way (JWT), or says it cannot (IAM). */
  readonly playbackAuth: PlaybackAuthConfig;
  /** The bucket whose presigned URLs the page plays: the one media origin its CSP allows. */
  readonly storage: RecordingStorage;
}

/**
 * GET / and its assets: the console page, served as static files from the function's bundle
 * (console/ built by lib/console-bundle.ts at bundling time). It holds no permission at all: the
 * page reads data through the API with the signed-in user's token.
 */
export class ConsoleFunction extends VaultFunction {
  constructor(scope: Construct, id: string, props: ConsoleFunctionProps) {
    const auth = props.playbackAuth;
    super(scope, id, {
      ...props,
      description: 'Recording Vault console: the single-page console and its assets (static)',
      timeout: Duration.seconds(5),
      memorySize: 128,
      bundleDefines: () => ({ __CONSOLE_ASSETS__: JSON.stringify(buildConsoleAssets()) }),
      environment: {
        [ENV.consoleAuth]: auth.type,
        [ENV.consoleMediaOrigin]: `https://${props.storage.bucket.bucketRegionalDomainName}`,
        ...(auth.type === 'jwt'
          ? {
              [ENV.consoleIssuer]: auth.issuer,
              [ENV.consoleScopes]: 'openid recordings/read recordings/erase',
              ...(auth.consoleClientId !== undefined ? { [ENV.consoleClientId]: auth.consoleClientId } : {}),
              [ENV.consoleConnectOrigins]: new URL(auth.issuer).origin,
            }
          : {}),
      },
    });
  }
}
