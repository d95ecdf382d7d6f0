/**
 * The end of the local stack's banner: what to do next, ready to paste. The API lists by UTC day
 * (`from` inclusive, `to` exclusive), so "today" is today's UTC date.
 */
const utcDay = (at: Date) => at.toISOString().slice(0, 10);

export function nextSteps(apiUrl: string, apiToken: string, now = new Date()): string[] {
  const today = utcDay(now);
  const tomorrow = utcDay(new Date(now.getTime() + 24 * 3600 * 1000));
  return [
    '',
    'Next:',
    `  Open the console:        ${apiUrl}/#token=${apiToken}`,
    "  List today's recordings:",
    `    curl -H "Authorization: Bearer ${apiToken}" "${apiUrl}/recordings?from=${today}&to=${tomorrow}"`,
    '  What the vault knows of one (same environment as this command):',
    '    npm run status -- --recording RE…',
    '  Stop: Ctrl-C once (queued jobs are kept for the next start)',
  ];
}
