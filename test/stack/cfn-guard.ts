/**
 * AWS Control Tower's proactive controls, offline: the cfn-guard 3 binary and the Control Tower
 * rule files that `@cdklabs/cdk-validator-cfnguard` ships, run over synthesized templates.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const PACKAGE_DIR = path.dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json'));
export const CFN_GUARD = path.join(PACKAGE_DIR, 'bin', 'ubuntu', 'x86_64', 'cfn-guard');
export const CONTROL_TOWER_RULES = path.join(PACKAGE_DIR, 'rules', 'control-tower', 'cfn-guard');

/** One resource failing one control in one template. */
export interface ControlFailure {
  /** The template file. */
  readonly template: string;
  /** The control's id, e.g. `CT.LAMBDA.PR.3`. */
  readonly control: string;
  /** The logical id of the failing resource (`(template)` when the rule names none). */
  readonly resource: string;
}

/** The cfn-guard binary, executable (npm does not always keep the mode of a package's files). */
export function cfnGuardBinary(): string {
  try {
    fs.accessSync(CFN_GUARD, fs.constants.X_OK);
  } catch {
    fs.chmodSync(CFN_GUARD, 0o755);
  }
  return CFN_GUARD;
}

function ruleFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? ruleFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .filter((f) => f.endsWith('.guard'))
    .sort();
}

/**
 * The rule files that can apply to the templates: those naming one of their resource types. A
 * rule selects resources by type name only, so the others would report nothing; leaving them out
 * keeps a run quick (cfn-guard spends its time per rule file).
 */
export function applicableRuleFiles(templates: readonly string[]): string[] {
  const types = new Set<string>();
  for (const file of templates) {
    const template = JSON.parse(fs.readFileSync(file, 'utf8')) as { Resources?: Record<string, { Type: string }> };
    for (const resource of Object.values(template.Resources ?? {})) types.add(resource.Type);
  }
  return ruleFiles(CONTROL_TOWER_RULES).filter((file) => {
    const text = fs.readFileSync(file, 'utf8');
    const named = text.match(/AWS::[A-Za-z0-9]+::[A-Za-z0-9]+/g) ?? [];
    return named.some((t) => types.has(t));
  });
}

// biome-ignore lint/suspicious/noExplicitAny: cfn-guard's structured output is untyped; the walk below reads it freely.
type Node = any;

const CONTROL_ID = /\[(CT\.[A-Z0-9]+\.PR\.\d+)\]/;
const RESOURCE_PATH = /"\/Resources\/([A-Za-z0-9]+)/g;

/** Every (control, resource) of one template's `not_compliant` rules. */
function failuresOf(report: Node): ControlFailure[] {
  const found = new Map<string, ControlFailure>();
  const add = (control: string, resource: string) =>
    found.set(`${control} ${resource}`, { template: report.name, control, resource });
  const walk = (node: Node, control: string): void => {
    if (Array.isArray(node)) {
      for (const child of node) walk(child, control);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    if (node.Rule !== undefined) {
      const message: string = node.Rule.messages?.custom_message ?? '';
      walk(node.Rule.checks ?? [], CONTROL_ID.exec(message)?.[1] ?? control);
      return;
    }
    if (node.Clause !== undefined || node.Disjunctions !== undefined) {
      const ids = [...JSON.stringify(node).matchAll(RESOURCE_PATH)].map((m) => m[1] as string);
      for (const id of ids.length > 0 ? new Set(ids) : ['(template)']) add(control, id);
      return;
    }
    for (const child of Object.values(node)) walk(child, control);
  };
  for (const rule of report.not_compliant ?? []) walk(rule, rule.Rule?.name ?? '(unnamed rule)');
  return [...found.values()];
}

/** Runs the applicable Control Tower rules over `templates` in one cfn-guard run; no network. */
export function runControlTowerRules(templates: readonly string[]): ControlFailure[] {
  const rules = applicableRuleFiles(templates);
  const args = [
    'validate',
    ...templates.flatMap((t) => ['--data', t]),
    ...rules.flatMap((r) => ['--rules', r]),
    '--output-format',
    'json',
    '--show-summary',
    'none',
    '--structured',
  ];
  let stdout: string;
  try {
    stdout = execFileSync(cfnGuardBinary(), args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  } catch (error) {
    // 19: some rule failed (the report is on stdout); anything else is cfn-guard's own error.
    const failed = error as { status?: number; stdout?: string; stderr?: string };
    if (failed.status !== 19 || failed.stdout === undefined) {
      throw new Error(`cfn-guard exited with ${failed.status}: ${failed.stderr ?? String(error)}`);
    }
    stdout = failed.stdout;
  }
  const reports = JSON.parse(stdout) as Node[];
  if (reports.length !== templates.length) {
    throw new Error(`cfn-guard reported on ${reports.length} templates, expected ${templates.length}`);
  }
  return reports.flatMap(failuresOf);
}
