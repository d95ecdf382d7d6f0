/**
 * The access audit trail in the template: its table (keys, index, PITR, KMS in prod, retained),
 * its route and scope, and least privilege: the functions that write entries may only PutItem,
 * the one that reads may only Query, and no role of the stack may update or delete an entry.
 */
import { asList, type Json, resourcesOfType, type SynthesizedStage, synthStage } from './synth-stage';

let dev: SynthesizedStage;
let prod: SynthesizedStage;
let jwt: SynthesizedStage;

beforeAll(() => {
  dev = synthStage({ stage: 'dev' });
  prod = synthStage({ stage: 'prod' });
  jwt = synthStage({
    stage: 'jwt',
    base: 'dev',
    overrides: { playbackAuth: { type: 'jwt', issuer: 'https://auth.example.com/', audience: ['recording-vault'] } },
  });
});

const idOf = (s: SynthesizedStage, construct: { node: { defaultChild?: unknown } }) =>
  s.stack.getLogicalId(construct.node.defaultChild as never);

function auditTable(s: SynthesizedStage): Json {
  return s.resources[idOf(s, s.stack.audit.table)] as Json;
}

/** Does this policy statement's resource name the audit table (or one of its indexes)? */
function namesAuditTable(s: SynthesizedStage, statement: Json): boolean {
  const tableId = idOf(s, s.stack.audit.table);
  return JSON.stringify(statement.Resource ?? '').includes(`"${tableId}"`) || statement.Resource === '*';
}

/** Every action any role of the stack holds on the audit table, by role logical id. */
function auditActionsByRole(s: SynthesizedStage): Record<string, string[]> {
  const byRole: Record<string, string[]> = {};
  for (const [, policy] of resourcesOfType(s, 'AWS::IAM::Policy')) {
    const statements = policy.Properties.PolicyDocument.Statement as Json[];
    const actions = statements
      .filter((st) => st.Effect === 'Allow' && namesAuditTable(s, st))
      .flatMap((st) => asList(st.Action as string | string[]))
      .filter((a) => a.startsWith('dynamodb:') || a === '*');
    if (actions.length === 0) continue;
    for (const role of policy.Properties.Roles as Json[]) {
      byRole[role.Ref as string] = [...(byRole[role.Ref as string] ?? []), ...actions].sort();
    }
  }
  return byRole;
}

describe('the audit table', () => {
  test('is keyed by recording and time, indexed by actor and day, with point-in-time recovery', () => {
    for (const s of [dev, prod]) {
      const props = auditTable(s).Properties;
      expect(props.KeySchema).toEqual([
        { AttributeName: 'recordingSid', KeyType: 'HASH' },
        { AttributeName: 'atId', KeyType: 'RANGE' },
      ]);
      expect(props.GlobalSecondaryIndexes).toEqual([
        expect.objectContaining({
          IndexName: 'byActorDay',
          KeySchema: [
            { AttributeName: 'actorDay', KeyType: 'HASH' },
            { AttributeName: 'atId', KeyType: 'RANGE' },
          ],
        }),
      ]);
      expect(props.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(props.BillingMode).toBe('PAY_PER_REQUEST');
    }
  });

  test("prod: encrypted with the stage's key, retained and protected from deletion", () => {
    const table = auditTable(prod);
    expect(table.Properties.SSESpecification).toMatchObject({ SSEEnabled: true, SSEType: 'KMS' });
    expect(JSON.stringify(table.Properties.SSESpecification.KMSMasterKeyId)).toContain(
      idOf(prod, prod.stack.vaultKey?.key as never),
    );
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties.DeletionProtectionEnabled).toBe(true);
  });
});

describe('least privilege on the audit trail', () => {
  test.each(['dev', 'prod', 'jwt'])(
    '%s: writers hold PutItem only, the reader Query only, nobody update or delete',
    (name) => {
      const s = { dev, prod, jwt }[name] as SynthesizedStage;
      const byRole = auditActionsByRole(s);
      expect(byRole).toEqual({
        [idOf(s, s.stack.recordingsRead.role)]: ['dynamodb:PutItem'],
        [idOf(s, s.stack.erasure.role)]: ['dynamodb:PutItem'],
        [idOf(s, s.stack.hold.role)]: ['dynamodb:PutItem'],
        // The retention sweep enters every expiry (dev and jwt keep 30 days; prod has no sweep).
        ...(s.stack.retention ? { [idOf(s, s.stack.retention.role)]: ['dynamodb:PutItem'] } : {}),
        [idOf(s, s.stack.auditRead.role)]: ['dynamodb:Query'],
      });
      expect(s.stack.retention === undefined).toBe(name === 'prod');
      const every = Object.values(byRole).flat();
      expect(every.filter((a) => /Update|Delete|BatchWrite|PartiQL|\*|Restore|Import/.test(a))).toEqual([]);
    },
  );

  test('the reader can write nowhere', () => {
    for (const s of [dev, prod]) {
      const roleId = idOf(s, s.stack.auditRead.role);
      const actions = resourcesOfType(s, 'AWS::IAM::Policy')
        .filter(([, p]) => (p.Properties.Roles as Json[]).some((r) => r.Ref === roleId))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[])
        .flatMap((st) => asList(st.Action as string | string[]))
        .filter((a) => !/^(logs|xray|kms):/.test(a));
      expect(actions).toEqual(['dynamodb:Query']);
    }
  });

  test('the writers are told the table; the reader too', () => {
    for (const s of [dev, prod]) {
      for (const fn of [
        s.stack.recordingsRead.function,
        s.stack.erasure.function,
        s.stack.hold.function,
        s.stack.auditRead.function,
        ...(s.stack.retention ? [s.stack.retention.function] : []),
      ]) {
        const variables = s.resources[idOf(s, fn)]?.Properties.Environment.Variables as Json;
        expect(variables.AUDIT_TABLE).toEqual({ Ref: idOf(s, s.stack.audit.table) });
      }
    }
  });
});

test('the retention sweep names in its entries the IAM role it runs as', () => {
  const retention = dev.stack.retention;
  if (!retention) throw new Error('dev has retention.days');
  const variables = dev.resources[idOf(dev, retention.function)]?.Properties.Environment.Variables as Json;
  expect(variables.AUDIT_PRINCIPAL_ARN).toEqual({ 'Fn::GetAtt': [idOf(dev, retention.role), 'Arn'] });
});

describe('GET /recordings/{recordingSid}/audit', () => {
  function route(s: SynthesizedStage): Json | undefined {
    return resourcesOfType(s, 'AWS::ApiGatewayV2::Route')
      .map(([, r]) => r.Properties as Json)
      .find((p) => p.RouteKey === 'GET /recordings/{recordingSid}/audit');
  }

  test('IAM stages: behind IAM; JWT stage: needs the recordings/audit scope', () => {
    expect(route(dev)).toMatchObject({ AuthorizationType: 'AWS_IAM' });
    expect(route(jwt)).toMatchObject({ AuthorizationType: 'JWT', AuthorizationScopes: ['recordings/audit'] });
  });
});
