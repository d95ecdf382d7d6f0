#!/usr/bin/env node
/**
 * CDK entry point: `npx cdk synth|deploy -c stage=<name>` (stages in cdk.json, default `dev`).
 * cdk-nag (AwsSolutions and Serverless) runs as a validation plugin during synthesis.
 */
import { buildApp } from '../lib/app';
import { StageConfigError } from '../lib/config';

try {
  buildApp();
} catch (error) {
  // A cdk.json mistake is the engineer's to fix: every problem on its own line, no stack trace.
  if (!(error instanceof StageConfigError)) throw error;
  process.stderr.write(
    `Invalid configuration for stage "${error.stage}" in cdk.json:\n${error.problems.map((p) => `  - ${p}`).join('\n')}\n`,
  );
  process.exit(1);
}
