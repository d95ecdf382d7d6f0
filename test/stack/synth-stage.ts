/**
 * Synthesizes one stage of cdk.json (with overrides) for the governed-account tests, without
 * bundling (the tests read the template) and without cdk-nag (the nag tests run it themselves).
 * `env` gives the stack a concrete account and region, as a pipeline with credentials does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { buildApp } from '../../lib/app';
import type { RecordingVaultStack } from '../../lib/recording-vault-stack';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation template JSON is untyped; the tests navigate it freely.
export type Json = Record<string, any>;

export const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as {
  context: Json & { stages: Record<string, Json> };
};

export interface StageEnv {
  readonly account: string;
  readonly region: string;
}

export interface SynthesizedStage {
  readonly stack: RecordingVaultStack;
  /** The stack's template as CloudFormation reads it. */
  readonly template: Json;
  readonly resources: Record<string, Json>;
  /** Path of the template file in the cloud assembly. */
  readonly templateFile: string;
}

/** `stage` = cdk.json's `base` stage (default: the same name) with `overrides`, synthesized into `outdir`. */
export function synthStage(options: {
  readonly stage: string;
  readonly base?: string;
  readonly overrides?: Json;
  readonly env?: StageEnv;
  readonly outdir?: string;
}): SynthesizedStage {
  const { stage, base = stage, overrides = {} } = options;
  const stages = { ...cdkJson.context.stages, [stage]: { ...cdkJson.context.stages[base], ...overrides } };
  const saved = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
  setEnv('CDK_DEFAULT_ACCOUNT', options.env?.account);
  setEnv('CDK_DEFAULT_REGION', options.env?.region);
  try {
    const { app, stack } = buildApp({
      appProps: {
        context: { ...cdkJson.context, stages, stage, 'aws:cdk:bundling-stacks': [] },
        ...(options.outdir !== undefined ? { outdir: options.outdir } : {}),
      },
      nag: false,
    });
    const assembly = app.synth();
    const templateFile = assembly.getStackByName(stack.stackName).templateFullPath;
    const template = JSON.parse(fs.readFileSync(templateFile, 'utf8')) as Json;
    return { stack, template, resources: template.Resources as Record<string, Json>, templateFile };
  } finally {
    setEnv('CDK_DEFAULT_ACCOUNT', saved.account);
    setEnv('CDK_DEFAULT_REGION', saved.region);
  }
}

function setEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

export function logicalIdOf(s: SynthesizedStage, element: { node: { defaultChild?: unknown } }): string {
  return s.stack.getLogicalId(element.node.defaultChild as CfnElement);
}

export function resourcesOfType(s: SynthesizedStage, type: string): [string, Json][] {
  return Object.entries(s.resources).filter(([, r]) => r.Type === type);
}

export const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
