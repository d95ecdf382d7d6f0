/**
 * Child process for the webhook benchmark: the do-nothing HTTP server (the baseline: reads the
 * body, answers 204) and a stub Twilio serving a small recording to the local stack's transfer
 * worker. Reports `{ nothingPort, twilioPort }` over IPC once both listen.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const MEDIA = Buffer.alloc(4096, 0x55);

const nothing = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(204).end();
  });
});

const twilio = createServer((req, res) => {
  req.resume();
  if (req.method === 'GET' && /\/Recordings\/RE[0-9a-fA-F]{32}\.(mp3|wav)$/.test(req.url ?? '')) {
    res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': String(MEDIA.length) }).end(MEDIA);
  } else if (req.method === 'DELETE') {
    res.writeHead(204).end();
  } else {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"status":404}');
  }
});

Promise.all(
  [nothing, twilio].map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))),
).then(() => {
  process.send?.({
    nothingPort: (nothing.address() as AddressInfo).port,
    twilioPort: (twilio.address() as AddressInfo).port,
  });
});
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
