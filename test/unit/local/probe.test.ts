/**
 * The local stack's readiness probe (lib/local/probe.ts) must accept every state a user can leave
 * the vault in: the trail is append-only, so an entry once written is there at every later start.
 */
import { PROBES } from '../../../lib/local/probe';

test('the audit route is ready whatever the probed recording’s trail holds: a request on its SID is entered for ever', () => {
  const audit = PROBES.find((probe) => probe.method === 'GET' && probe.path.endsWith('/audit'));
  const trail = JSON.stringify({
    entries: [{ action: 'recording.hold', outcome: 'not-found', actor: 'local' }],
    nextCursor: null,
  });

  expect(audit?.expect).toBe(200);
  expect(audit?.says?.test(trail)).toBe(true);
  expect(audit?.says?.test(JSON.stringify({ entries: [], nextCursor: null }))).toBe(true);
  // A gateway without the route does not pass for the handler.
  expect(audit?.says?.test('{"error":"Not found"}')).toBe(false);
});
