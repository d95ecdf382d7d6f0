import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { RECONCILER_CHECKPOINT_KEY } from '../../lambda/shared/config/env-names';
import { buildApp } from '../../lib/app';
import { CONSOLE_PATHS } from '../../lib/constructs/vault-api';
import type { RecordingVaultStack } from '../../lib/recording-vault-stack';
import { cdkJson, type Json } from './synth-stage';

interface Synthesized {
  readonly stack: RecordingVaultStack;
  readonly json: Json;
  readonly resources: Record<string, Json>;
}

function synth(stage: string, overrides: Json = {}): Synthesized {
  const stages = { ...cdkJson.context.stages, [stage]: { ...cdkJson.context.stages[stage], ...overrides } };
  const { stack } = buildApp({
    appProps: { context: { ...cdkJson.context, stages, stage, 'aws:cdk:bundling-stacks': [] } },
    nag: false,
  });
  const json = Template.fromStack(stack).toJSON() as Json;
  return { stack, json, resources: json.Resources as Record<string, Json> };
}

const id = (s: Synthesized, element: { node: { defaultChild?: unknown } }) =>
  s.stack.getLogicalId(element.node.defaultChild as CfnElement);
const ofType = (s: Synthesized, type: string) => Object.entries(s.resources).filter(([, r]) => r.Type === type);
const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Every statement of every inline policy on the role. */
function statements(s: Synthesized, role: { node: { defaultChild?: unknown } }): Json[] {
  const roleId = id(s, role);
  return ofType(s, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties.Roles as Json[]).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);
}

/** Route key → { route properties, the function its integration invokes }. */
function routes(s: Synthesized): Record<string, { props: Json; functionId: string | undefined }> {
  const integrations = Object.fromEntries(ofType(s, 'AWS::ApiGatewayV2::Integration'));
  return Object.fromEntries(
    ofType(s, 'AWS::ApiGatewayV2::Route').map(([, r]) => {
      const target = r.Properties.Target as Json;
      const integrationId = (target['Fn::Join'][1] as unknown[]).find(
        (part): part is Json => typeof part === 'object' && part !== null && 'Ref' in part,
      )?.Ref as string;
      const uri = integrations[integrationId]?.Properties.IntegrationUri as Json | undefined;
      return [r.Properties.RouteKey as string, { props: r.Properties, functionId: uri?.['Fn::GetAtt']?.[0] }];
    }),
  );
}

function nagViolations(stack: RecordingVaultStack): string[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack
      .validateScope(stack)
      .violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
  );
}

const LIST = 'GET /recordings';
const ERASE = 'DELETE /calls/{callId}/recordings/{recordingSid}';
const ERASE_BY_SID = 'DELETE /recordings/{recordingSid}';
const HOLD = ['PUT /recordings/{recordingSid}/hold', 'DELETE /recordings/{recordingSid}/hold'];
const PLAYBACK = ['GET /calls/{callId}/recording', 'GET /calls/{callId}/recordings', 'GET /recordings/{recordingSid}'];
const AUDIT = 'GET /recordings/{recordingSid}/audit';
/** The console's page and assets: public (the page signs in by itself; no recording data in them). */
const CONSOLE = CONSOLE_PATHS.map((path) => `GET ${path}`);

let dev: Synthesized;
let prod: Synthesized;
let jwt: Synthesized;

beforeAll(() => {
  dev = synth('dev');
  prod = synth('prod');
  jwt = synth('dev', {
    playbackAuth: { type: 'jwt', issuer: 'https://auth.example.com/', audience: ['recording-vault'] },
    twilioSecretName: 'recording-vault/twilio',
  });
});

const all = () => [dev, prod, jwt];

describe('routes', () => {
  test('IAM stages: the two new routes use IAM, without scopes, on the right functions', () => {
    for (const s of [dev, prod]) {
      const r = routes(s);
      expect(Object.keys(r).sort()).toEqual(
        ['POST /twilio/recording', ...PLAYBACK, LIST, ERASE, ERASE_BY_SID, AUDIT, ...HOLD, ...CONSOLE].sort(),
      );
      for (const key of CONSOLE) expect(r[key]?.props.AuthorizationType).toBe('NONE');
      expect(r[CONSOLE[0] as string]?.functionId).toBe(id(s, s.stack.console.function));
      for (const key of [...PLAYBACK, LIST, ERASE, ERASE_BY_SID, AUDIT, ...HOLD]) {
        expect(r[key]?.props.AuthorizationType).toBe('AWS_IAM');
        expect(r[key]?.props.AuthorizationScopes).toBeUndefined();
      }
      for (const key of [...PLAYBACK, LIST]) expect(r[key]?.functionId).toBe(id(s, s.stack.recordingsRead.function));
      expect(r[ERASE]?.functionId).toBe(id(s, s.stack.erasure.function));
      expect(r[ERASE_BY_SID]?.functionId).toBe(id(s, s.stack.erasure.function));
      expect(r[AUDIT]?.functionId).toBe(id(s, s.stack.auditRead.function));
      for (const key of HOLD) expect(r[key]?.functionId).toBe(id(s, s.stack.hold.function));
    }
  });

  test('JWT stage: GET routes need recordings/read, DELETE needs recordings/erase; one authorizer; the webhook stays open', () => {
    const r = routes(jwt);
    for (const key of [...PLAYBACK, LIST]) {
      expect(r[key]?.props).toMatchObject({ AuthorizationType: 'JWT', AuthorizationScopes: ['recordings/read'] });
    }
    for (const key of [ERASE, ERASE_BY_SID]) {
      expect(r[key]?.props).toMatchObject({ AuthorizationType: 'JWT', AuthorizationScopes: ['recordings/erase'] });
    }
    for (const key of HOLD) {
      expect(r[key]?.props).toMatchObject({ AuthorizationType: 'JWT', AuthorizationScopes: ['recordings/hold'] });
    }
    const authorizers = ofType(jwt, 'AWS::ApiGatewayV2::Authorizer');
    expect(authorizers).toHaveLength(1);
    for (const key of [...PLAYBACK, LIST, ERASE, ERASE_BY_SID, ...HOLD]) {
      expect(r[key]?.props.AuthorizerId).toEqual({ Ref: authorizers[0]?.[0] });
    }
    expect(r['POST /twilio/recording']?.props.AuthorizationType).toBe('NONE');
    expect(r[ERASE]?.functionId).toBe(id(jwt, jwt.stack.erasure.function));
  });
});

describe('the read function (playback and GET /recordings)', () => {
  test('holds no permission to delete, write or put anything but audit entries; queries the ledger only through its indexes', () => {
    for (const s of all()) {
      const st = statements(s, s.stack.recordingsRead.role);
      const auditTable = id(s, s.stack.audit.table);
      // The one write it holds: appending to the access audit trail (test/stack/audit.test.ts).
      const append = st.filter((x) => JSON.stringify(x.Resource).includes(`"${auditTable}"`));
      expect(append.flatMap((x) => asList(x.Action))).toEqual(['dynamodb:PutItem']);
      const actions = st.filter((x) => !append.includes(x)).flatMap((x) => asList(x.Action as string | string[]));
      // Logs and X-Ray aside, nothing that changes anything.
      const data = actions.filter((a) => !/^(logs|xray):/.test(a));
      expect(data.filter((a) => /Delete|Put|Update|Write|Create|Abort|Restore|Bypass|Send/.test(a))).toEqual([]);
      // BatchGetItem reads ledger items by RecordingSid (the keys it presigns come from the ledger).
      expect(actions.filter((a) => /^(s3|dynamodb|sqs|secretsmanager|events):/.test(a)).sort()).toEqual([
        'dynamodb:BatchGetItem',
        'dynamodb:GetItem',
        'dynamodb:GetItem',
        'dynamodb:Query',
        's3:GetObject',
        's3:ListBucket',
      ]);
      const query = st.find((x) => asList(x.Action).includes('dynamodb:Query'));
      expect(query?.Resource).toEqual([
        { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id(s, s.stack.ledger.table), 'Arn'] }, '/index/byDayShard']] },
        { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id(s, s.stack.ledger.table), 'Arn'] }, '/index/byHold']] },
        { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id(s, s.stack.ledger.table), 'Arn'] }, '/index/byOpenStatus']] },
      ]);
      // GetItem: call items, and ledger items (the keys it presigns; GET /recordings/{recordingSid}).
      const gets = st.filter((x) => asList(x.Action).includes('dynamodb:GetItem'));
      expect(gets.flatMap((x) => asList(x.Resource as unknown))).toEqual([
        { 'Fn::GetAtt': [id(s, s.stack.calls.table), 'Arn'] },
        { 'Fn::GetAtt': [id(s, s.stack.ledger.table), 'Arn'] },
      ]);
    }
  });

  test("is told where the ledger and its indexes are, and their shard count (the stage's ledger.indexShards)", () => {
    const vars = (dev.resources[id(dev, dev.stack.recordingsRead.function)] as Json).Properties.Environment
      .Variables as Json;
    expect(vars.LEDGER_TABLE).toEqual({ Ref: id(dev, dev.stack.ledger.table) });
    expect(vars.LEDGER_DAY_INDEX).toBe('byDayShard');
    expect(vars.LEDGER_OPEN_STATUS_INDEX).toBe('byOpenStatus');
    expect(vars.LEDGER_HOLD_INDEX).toBe('byHold');
    expect(vars.LEDGER_INDEX_SHARDS).toBe(String(dev.stack.config.ledger.indexShards));
  });
});

describe('the hold function', () => {
  const locked = () => synth('prod', { objectLock: { mode: 'GOVERNANCE', retentionDays: 30 } });

  function found(s: Synthesized) {
    return statements(s, s.stack.hold.role).map((x) => ({
      actions: asList(x.Action as string | string[]).sort(),
      resources: asList(x.Resource as unknown),
      ...(x.Condition ? { condition: x.Condition } : {}),
    }));
  }

  test('without Object Lock: the ledger item and the bus, nothing in S3', () => {
    for (const s of [dev, jwt]) {
      expect(found(s)).toEqual([
        {
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [{ 'Fn::GetAtt': [id(s, s.stack.hold.logGroup), 'Arn'] }],
        },
        { actions: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], resources: ['*'] },
        {
          actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          resources: [{ 'Fn::GetAtt': [id(s, s.stack.ledger.table), 'Arn'] }],
        },
        { actions: ['events:PutEvents'], resources: [{ 'Fn::GetAtt': [id(s, s.stack.events.bus), 'Arn'] }] },
        // Appending to the access audit trail (test/stack/audit.test.ts).
        { actions: ['dynamodb:PutItem'], resources: [{ 'Fn::GetAtt': [id(s, s.stack.audit.table), 'Arn'] }] },
      ]);
    }
  });

  test('with Object Lock: also lists versions, reads and sets legal holds under recordings/, never deletes or bypasses', () => {
    const s = locked();
    const bucket = id(s, s.stack.storage.bucket);
    const statementsFound = found(s);
    expect(statementsFound).toEqual(
      expect.arrayContaining([
        {
          actions: ['s3:ListBucketVersions'],
          resources: [{ 'Fn::GetAtt': [bucket, 'Arn'] }],
          condition: { StringLike: { 's3:prefix': ['recordings/*'] } },
        },
        {
          // Read before a release clears it: the entry says how many were actually on.
          actions: ['s3:GetObjectLegalHold', 's3:PutObjectLegalHold'],
          resources: [{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/recordings/*']] }],
        },
      ]),
    );
    const actions = statementsFound.flatMap((x) => x.actions);
    expect(actions.filter((a) => /Delete|Bypass|Retention|GetObject$|Query|Scan/.test(a))).toEqual([]);
    // Its one PutItem is on the audit trail, never on the ledger.
    expect(statementsFound.filter((x) => x.actions.includes('dynamodb:PutItem'))).toEqual([
      { actions: ['dynamodb:PutItem'], resources: [{ 'Fn::GetAtt': [id(s, s.stack.audit.table), 'Arn'] }] },
    ]);
    const vars = (s.resources[id(s, s.stack.hold.function)] as Json).Properties.Environment.Variables as Json;
    expect(vars.OBJECT_LOCK_ENABLED).toBe('true');
  });
});

describe('the retention function (dev keeps 30 days)', () => {
  test('exactly the erasure rights, plus the day index and its schedule; none without retention', () => {
    const s = dev;
    const retention = s.stack.retention;
    if (!retention) throw new Error('dev has retention.days');
    const bucket = id(s, s.stack.storage.bucket);
    const found = statements(s, retention.role).map((x) => ({
      actions: asList(x.Action as string | string[]).sort(),
      resources: asList(x.Resource as unknown),
      ...(x.Condition ? { condition: x.Condition } : {}),
    }));
    expect(found).toEqual(
      expect.arrayContaining([
        {
          actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          resources: [{ 'Fn::GetAtt': [id(s, s.stack.ledger.table), 'Arn'] }],
        },
        {
          actions: ['dynamodb:Query'],
          resources: [
            { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id(s, s.stack.ledger.table), 'Arn'] }, '/index/byDayShard']] },
          ],
        },
        {
          actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          resources: [{ 'Fn::GetAtt': [id(s, s.stack.calls.table), 'Arn'] }],
        },
        {
          actions: ['s3:ListBucketVersions'],
          resources: [{ 'Fn::GetAtt': [bucket, 'Arn'] }],
          condition: { StringLike: { 's3:prefix': ['recordings/*'] } },
        },
        {
          actions: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:GetObjectLegalHold', 's3:GetObjectRetention'],
          resources: [{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/recordings/*']] }],
        },
      ]),
    );
    // PutItem on the audit table only (every expiry is entered there); no other put anywhere.
    const audit = { 'Fn::GetAtt': [id(s, s.stack.audit.table), 'Arn'] };
    expect(found.filter((x) => x.actions.includes('dynamodb:PutItem'))).toEqual([
      { actions: ['dynamodb:PutItem'], resources: [audit] },
    ]);
    const actions = found.flatMap((x) => x.actions).filter((a) => a !== 'dynamodb:PutItem');
    expect(actions.filter((a) => /PutItem|DeleteItem|Scan|Bypass|PutObject|GetObject$|sqs:/.test(a))).toEqual([]);
    const fn = (s.resources[id(s, retention.function)] as Json).Properties;
    expect(fn.ReservedConcurrentExecutions).toBe(1);
    expect(fn.Environment.Variables).toMatchObject({ RETENTION_DAYS: '30', RETENTION_MAX_RECORDINGS_PER_RUN: '500' });
    const rules = ofType(s, 'AWS::Events::Rule').filter(([, r]) =>
      JSON.stringify(r.Properties.Targets).includes(id(s, retention.function)),
    );
    expect(rules.map(([, r]) => r.Properties.ScheduleExpression)).toEqual(['rate(1 hour)']);
    expect(prod.stack.retention).toBeUndefined();
  });

  test('is told the periods of retention.bySource, only when the stage names a source', () => {
    const variables = (s: Synthesized): Json => {
      if (!s.stack.retention) throw new Error('the stage has retention.days');
      return (s.resources[id(s, s.stack.retention.function)] as Json).Properties.Environment.Variables;
    };
    expect(variables(dev)).not.toHaveProperty('RETENTION_DAYS_BY_SOURCE');
    const bySource = synth('dev', { retention: { days: 30, bySource: { RecordVerb: 7, Conference: 365 } } });
    // In Twilio's order of the sources, whatever the order in cdk.json.
    expect(variables(bySource)).toMatchObject({
      RETENTION_DAYS: '30',
      RETENTION_DAYS_BY_SOURCE: 'Conference=365,RecordVerb=7',
    });
    const none = synth('dev', { retention: { days: 30, bySource: {} } });
    expect(variables(none)).not.toHaveProperty('RETENTION_DAYS_BY_SOURCE');
  });

  test('no S3 lifecycle rule expires recordings: only the sweep erases them, through the ledger', () => {
    for (const s of all()) {
      const rules = (s.resources[id(s, s.stack.storage.bucket)] as Json).Properties.LifecycleConfiguration
        .Rules as Json[];
      expect(rules.filter((r) => r.ExpirationInDays !== undefined || r.ExpirationDate !== undefined)).toEqual([]);
    }
  });
});

describe('the erasure function', () => {
  test('has exactly its permissions', () => {
    for (const s of all()) {
      const bucket = id(s, s.stack.storage.bucket);
      const found = statements(s, s.stack.erasure.role).map((x) => ({
        actions: asList(x.Action as string | string[]).sort(),
        resources: asList(x.Resource as unknown),
        ...(x.Condition ? { condition: x.Condition } : {}),
      }));
      const secretArn = s === jwt ? expect.anything() : { Ref: id(s, s.stack.twilioSecret as never) };
      expect(found).toEqual(
        expect.arrayContaining([
          {
            actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
            resources: [{ 'Fn::GetAtt': [id(s, s.stack.ledger.table), 'Arn'] }],
          },
          {
            actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
            resources: [{ 'Fn::GetAtt': [id(s, s.stack.calls.table), 'Arn'] }],
          },
          {
            actions: ['s3:ListBucketVersions'],
            resources: [{ 'Fn::GetAtt': [bucket, 'Arn'] }],
            condition: { StringLike: { 's3:prefix': ['recordings/*'] } },
          },
          {
            actions: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:GetObjectLegalHold', 's3:GetObjectRetention'],
            resources: [{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/recordings/*']] }],
          },
          { actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], resources: [secretArn] },
          { actions: ['events:PutEvents'], resources: [{ 'Fn::GetAtt': [id(s, s.stack.events.bus), 'Arn'] }] },
          {
            actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            resources: [{ 'Fn::GetAtt': [id(s, s.stack.erasure.logGroup), 'Arn'] }],
          },
          { actions: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], resources: ['*'] },
          // Appending to the access audit trail (test/stack/audit.test.ts).
          { actions: ['dynamodb:PutItem'], resources: [{ 'Fn::GetAtt': [id(s, s.stack.audit.table), 'Arn'] }] },
        ]),
      );
      // With the stage's key (prod): the key for the items it rewrites and the events it publishes.
      const kms = s.stack.vaultKey
        ? [
            {
              actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
              resources: [{ 'Fn::GetAtt': [id(s, s.stack.vaultKey.key), 'Arn'] }],
            },
          ]
        : [];
      expect(found).toEqual(expect.arrayContaining(kms));
      // …and nothing else: no Query/Delete on a table, no object reads, no governance bypass, no queue.
      expect(found).toHaveLength(9 + kms.length);
    }
  });

  test('Node.js 22 on arm64, its own log group, tracing, and its environment contract (loadErasureConfig)', () => {
    for (const s of [dev, prod]) {
      const props = (s.resources[id(s, s.stack.erasure.function)] as Json).Properties;
      expect(props).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: id(s, s.stack.erasure.logGroup) } },
      });
      expect(props.Timeout).toBeLessThan(30);
      expect(Object.keys(props.Environment.Variables).sort()).toEqual(
        [
          'TWILIO_ACCOUNT_SID',
          'TWILIO_SECRET_ARN',
          'TWILIO_API_BASE_URL',
          'RECORDINGS_BUCKET',
          'CALLS_TABLE',
          'LEDGER_TABLE',
          'LEDGER_INDEX_SHARDS',
          'EVENT_BUS_NAME',
          'AUDIT_TABLE',
          'POWERTOOLS_SERVICE_NAME',
          'POWERTOOLS_METRICS_NAMESPACE',
          'POWERTOOLS_LOG_LEVEL',
          'NODE_OPTIONS',
        ].sort(),
      );
      expect((s.resources[id(s, s.stack.erasure.role)] as Json).Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  test('only the erasure function (and the retention sweep, which runs the same erasure) can delete recordings', () => {
    for (const s of all()) {
      const deleters = ofType(s, 'AWS::IAM::Policy')
        .filter(([, p]) =>
          (p.Properties.PolicyDocument.Statement as Json[]).some((x) =>
            asList(x.Action as string | string[]).some((a) => /^s3:DeleteObject/.test(a)),
          ),
        )
        .flatMap(([, p]) => (p.Properties.Roles as Json[]).map((r) => r.Ref as string));
      // The auto-delete custom resource of dev stages empties buckets on stack deletion through
      // its own role (a bucket policy), not an IAM policy: only the erasure role is listed here.
      const sweep = s.stack.retention ? [id(s, s.stack.retention.role)] : [];
      expect(deleters.sort()).toEqual([id(s, s.stack.erasure.role), ...sweep].sort());
    }
  });

  test('only the transfer, the erasure and the hold function can write recordings in the ledger; the reconciler only its checkpoint', () => {
    for (const s of all()) {
      const ledgerArn = JSON.stringify({ 'Fn::GetAtt': [id(s, s.stack.ledger.table), 'Arn'] });
      const writes = (x: Json) =>
        asList(x.Action as string | string[]).some((a) =>
          /^dynamodb:(\*|PutItem|UpdateItem|DeleteItem|BatchWriteItem|PartiQL(Insert|Update|Delete))$/.test(a),
        );
      const onLedger = (x: Json) =>
        x.Resource === '*' || asList(x.Resource as Json | Json[]).some((r) => JSON.stringify(r) === ledgerArn);
      const ledgerWrites = ofType(s, 'AWS::IAM::Policy').flatMap(([, p]) =>
        (p.Properties.PolicyDocument.Statement as Json[])
          .filter((x) => writes(x) && onLedger(x))
          .flatMap((x) => (p.Properties.Roles as Json[]).map((r) => ({ role: r.Ref as string, statement: x }))),
      );
      const leadingKeys = (x: Json) => x.Condition?.['ForAllValues:StringEquals']?.['dynamodb:LeadingKeys'];

      const anyItem = ledgerWrites.filter((w) => leadingKeys(w.statement) === undefined).map((w) => w.role);
      const confined = ledgerWrites.filter((w) => leadingKeys(w.statement) !== undefined);

      // The hold function writes `hold`, `holdState` and a note (lambda/shared/ledger/ledger-hold.ts).
      expect(new Set(anyItem)).toEqual(
        new Set([
          id(s, s.stack.transfer.role),
          id(s, s.stack.erasure.role),
          id(s, s.stack.hold.role),
          // The retention sweep: the erasure's writes, and its own checkpoint item.
          ...(s.stack.retention ? [id(s, s.stack.retention.role)] : []),
        ]),
      );
      expect(confined.map((w) => [w.role, leadingKeys(w.statement)])).toEqual([
        [id(s, s.stack.reconciler.role), [RECONCILER_CHECKPOINT_KEY]],
      ]);
    }
  });
});

describe('cdk-nag', () => {
  test.each(['dev', 'prod', 'jwt'])('%s: no unacknowledged AwsSolutions / Serverless findings', (name) => {
    const s = { dev, prod, jwt }[name] as Synthesized;
    expect(nagViolations(s.stack)).toEqual([]);
  });
});
