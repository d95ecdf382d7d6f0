#!/usr/bin/env node
/**
 * CDK entry point: `npx cdk synth|deploy -c stage=<name>` (stages in cdk.json, default `dev`).
 * cdk-nag (AwsSolutions and Serverless) runs as a validation plugin during synthesis.
 */
import { buildApp } from '../lib/app';

buildApp();
