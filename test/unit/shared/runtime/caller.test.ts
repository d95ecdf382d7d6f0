import { callerOf } from '../../../../lambda/shared/runtime/caller';
import { httpApiEvent } from '../../../helpers/events';

function eventWith(authorizer: Record<string, unknown> | undefined) {
  const event = httpApiEvent({ method: 'PUT', path: '/recordings/RE1/hold' });
  if (authorizer) Object.assign(event.requestContext, { authorizer });
  return event;
}

describe('callerOf', () => {
  it('names an IAM caller by its principal ARN, with the source IP and user agent API Gateway saw', () => {
    const arn = 'arn:aws:sts::123456789012:assumed-role/legal/alice';
    expect(callerOf(eventWith({ iam: { userArn: arn } }))).toEqual({
      actor: arn,
      kind: 'iam',
      principalArn: arn,
      sourceIp: '203.0.113.7',
      userAgent: 'TwilioProxy/1.1',
    });
  });

  it("names a JWT caller by its sub and keeps the token's client id, whichever claim the issuer uses", () => {
    for (const claim of ['client_id', 'azp', 'cid']) {
      const caller = callerOf(eventWith({ jwt: { claims: { sub: 'user-42', [claim]: 'console-app' }, scopes: [] } }));
      expect(caller).toMatchObject({ actor: 'user-42', kind: 'jwt', sub: 'user-42', clientId: 'console-app' });
    }
  });

  it('falls back to the local principal only when the authorizer names nobody', () => {
    expect(callerOf(eventWith(undefined), 'local')).toMatchObject({ actor: 'local', kind: 'local' });
    expect(callerOf(eventWith({ iam: { userArn: 'arn:aws:iam::1:user/bob' } }), 'local')?.kind).toBe('iam');
  });

  it('finds no caller without an authorizer or a local principal, and ignores empty or non-text claims', () => {
    expect(callerOf(eventWith(undefined))).toBeUndefined();
    expect(callerOf(eventWith({ iam: { userArn: '' }, jwt: { claims: { sub: 42 } } }))).toBeUndefined();
    expect(callerOf(eventWith({ jwt: { claims: { sub: '  ' } } }), '')).toBeUndefined();
  });

  it('never takes the caller from a header the client could set', () => {
    const event = httpApiEvent({
      path: '/recordings',
      headers: { 'x-amzn-oidc-identity': 'mallory', 'x-user': 'eve' },
    });
    expect(callerOf(event)).toBeUndefined();
  });
});
