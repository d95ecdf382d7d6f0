/**
 * Ctrl-C for the local stack's commands. A terminal sends SIGINT to the whole foreground process
 * group: `tsx` gets it and relays it to the program, which also gets it directly, so one press
 * arrives twice within milliseconds. The first signal starts a clean stop; another within
 * `forceAfterMs` is that same press; a later one is a second press and forces the exit.
 */
export const FORCE_AFTER_MS = 1000;

export interface StopSignals {
  /** True once a stop has begun. */
  readonly requested: boolean;
}

export function onStopSignals(
  begin: (signal: NodeJS.Signals) => void,
  force: (signal: NodeJS.Signals) => void,
  forceAfterMs = FORCE_AFTER_MS,
): StopSignals {
  let firstAt: number | undefined;
  const handle = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (firstAt === undefined) {
      firstAt = now;
      begin(signal);
    } else if (now - firstAt >= forceAfterMs) {
      force(signal);
    }
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
  return {
    get requested() {
      return firstAt !== undefined;
    },
  };
}
