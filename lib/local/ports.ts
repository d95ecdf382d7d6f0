import { createServer, type Server } from 'node:net';

/** A port someone else holds: the CLI prints the message and exits 1. */
export class PortBusyError extends Error {
  constructor(
    readonly port: number,
    readonly what: string,
  ) {
    super(`port ${port} is busy (${what})`);
    this.name = 'PortBusyError';
  }
}

export function isAddressInUse(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return code === 'EADDRINUSE' || code === 'EACCES';
}

/** Fails fast, before any emulator starts, when one of the ports is taken. */
export async function assertPortsFree(
  host: string,
  ports: ReadonlyArray<{ port: number; what: string }>,
): Promise<void> {
  const seen = new Map<number, string>();
  for (const { port, what } of ports) {
    const other = seen.get(port);
    if (other) throw new PortBusyError(port, `${what} and ${other} are both set to it`);
    seen.set(port, what);
  }
  for (const { port, what } of ports) {
    await new Promise<void>((resolve, reject) => {
      const probe: Server = createServer();
      probe.once('error', (error) => reject(isAddressInUse(error) ? new PortBusyError(port, what) : error));
      probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
    });
  }
}

/** `server.listen` as a promise, mapping EADDRINUSE to a PortBusyError. */
export function listen(
  server: { listen(port: number, host: string): unknown; once(event: string, fn: (e: Error) => void): unknown },
  port: number,
  host: string,
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(isAddressInUse(error) ? new PortBusyError(port, what) : error);
    server.once('error', onError);
    server.once('listening', () => resolve());
    server.listen(port, host);
  });
}
