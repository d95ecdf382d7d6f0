import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { loadStageConfig } from './config';
import { RecordingVaultStack } from './recording-vault-stack';

export interface BuildAppOptions {
  /** Passed to `new App()` (tests hand in cdk.json's context and `stage`). */
  readonly appProps?: AppProps;
  /** Register cdk-nag as validation plugins (fails `cdk synth` on unacknowledged findings). @default true */
  readonly nag?: boolean;
}

/**
 * The CDK app: the stack of the stage chosen with `-c stage=<name>` (default `dev`), named
 * `RecordingVault-<stage>`, in CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION when the CLI sets them.
 */
export function buildApp(options: BuildAppOptions = {}): { app: App; stack: RecordingVaultStack } {
  const app = new App(options.appProps);
  const config = loadStageConfig(app.node);
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  const region = process.env.CDK_DEFAULT_REGION;
  const stack = new RecordingVaultStack(app, `RecordingVault-${config.name}`, {
    config,
    env: { ...(account ? { account } : {}), ...(region ? { region } : {}) },
    tags: { project: 'recording-vault', stage: config.name },
  });
  if (options.nag ?? true) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  }
  return { app, stack };
}
