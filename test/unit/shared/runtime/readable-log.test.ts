import { formatReadableLine, ReadableLogger, withoutLogs } from '../../../../lambda/shared/runtime/readable-log';

/** Local logs: one line a record, the function's short name, the keys that matter. */

test('a record is one line: time, level, function, message and its own keys', () => {
  const line = formatReadableLine(12, {
    timestamp: new Date(2024, 6, 22, 12, 0, 1).toISOString(),
    level: 'INFO',
    service: 'recording-vault',
    function: 'recording-transfer',
    function_request_id: 'abc',
    message: 'Stored recording',
    recordingSid: 'RE1',
    callSid: 'CA1',
    reason: 'two\nlines',
    error: new Error('boom'),
  });

  expect(line).toBe(
    '12:00:01 INFO  transfer  Stored recording  recordingSid=RE1 callSid=CA1 reason="two\\nlines" error="Error: boom"',
  );
});

test('a ReadableLogger prints lines, and nothing for work run without logs', async () => {
  const written: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    written.push(String(chunk));
    return true;
  });
  try {
    const logger = new ReadableLogger({ serviceName: 'recording-vault', logLevel: 'INFO' });
    logger.appendPersistentKeys({ function: 'recording-webhook' });
    await withoutLogs(async () => {
      await Promise.resolve();
      logger.info('probe');
    });
    logger.info('Accepted a callback', { recordingSid: 'RE1' });
  } finally {
    spy.mockRestore();
  }

  expect(written).toHaveLength(1);
  expect(written[0]).toMatch(/^\d\d:\d\d:\d\d INFO {2}webhook {3}Accepted a callback {2}recordingSid=RE1\n$/);
});
