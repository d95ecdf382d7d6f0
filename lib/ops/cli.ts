/**
 * What the operations commands share: one line on stderr and a non-zero exit for any failure,
 * never a stack trace (an operator reads it, a script checks the exit code).
 */
import { describeError, isConnectionError, TargetError } from './target';

/** Exit codes of the operations commands. */
export const EXIT = { ok: 0, failed: 1, notFound: 3 } as const;

/** A failure already phrased for the operator, with its exit code. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

/** Commander's own usage errors, in the same `<command>: …` form. */
export function usageErrorsAs(command: string): { outputError(text: string, write: (text: string) => void): void } {
  return { outputError: (text, write) => write(`${command}: ${text.replace(/^error: /, '')}`) };
}

/** Runs `main`, prints any failure as `<command>: <what went wrong>` and exits with its code. */
export function runCli(command: string, main: () => Promise<number | undefined>): void {
  main().then(
    (code) => {
      process.exitCode = code ?? EXIT.ok;
    },
    (error: unknown) => {
      const text =
        error instanceof CliError || error instanceof TargetError
          ? error.message
          : isConnectionError(error)
            ? `not reachable: ${describeError(error)}`
            : describeError(error);
      process.stderr.write(`${command}: ${text}\n`);
      process.exitCode = error instanceof CliError ? error.exitCode : EXIT.failed;
    },
  );
}
