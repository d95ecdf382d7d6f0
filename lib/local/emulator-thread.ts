/**
 * A thread that runs embedded emulators (./emulators.ts) off the gateway's event loop (see
 * ./thread.ts), each on an internal loopback port behind its front (./emulator-front.ts) on the
 * plan's port: the front's proxying runs on this thread too. The SQS journal's hook runs inside fauxqs's SendMessage, in this thread, before
 * it answers: what a client was told is queued is in the journal file.
 */
import { type FrontedService, startEmulatorFront } from './emulator-front';
import { type RunningEmulator, type RunningSqs, startDynamo, startS3, startSqs } from './emulators';
import { isThreadEntry, type StackThread, type StackThreadOptions, serveThread, startThread } from './thread';

export interface EmulatorPlan {
  readonly dynamodb?: { readonly port: number; readonly dir: string };
  readonly s3?: { readonly port: number; readonly dir: string; readonly buckets: readonly string[] };
  readonly sqs?: { readonly port: number; readonly dir: string };
}

export interface EmulatorEndpoints {
  readonly dynamodb?: string;
  readonly s3?: string;
  readonly sqs?: string;
}

export interface EmulatorThread {
  readonly endpoints: EmulatorEndpoints;
  /** Puts the messages the SQS journal still owes back into their queues (once the queues exist). */
  replay(): Promise<{ replayed: number; skipped: number }>;
  /** Closes the emulators (the journal synced and closed) and ends the thread. */
  stop(): Promise<void>;
}

/** Starts the emulators the plan names in a thread of their own. */
export async function startEmulatorThread(plan: EmulatorPlan, options: StackThreadOptions): Promise<EmulatorThread> {
  const thread: StackThread<EmulatorEndpoints> = await startThread('emulator-thread', plan, options);
  return {
    endpoints: thread.value,
    replay: () => thread.call('replay'),
    stop: () => thread.stop('stop'),
  };
}

/** The emulator on a port the system picks, its front on `port`; stopping stops both. */
async function behindFront<E extends RunningEmulator>(
  service: FrontedService,
  port: number,
  start: Promise<E>,
): Promise<E> {
  const emulator = await start;
  try {
    const front = await startEmulatorFront({ service, port, target: emulator.endpoint });
    return {
      ...emulator,
      endpoint: front.endpoint,
      async stop() {
        await front.stop();
        await emulator.stop();
      },
    };
  } catch (error) {
    await emulator.stop();
    throw error;
  }
}

if (isThreadEntry(__filename)) {
  serveThread<EmulatorEndpoints>(async (data) => {
    const plan = data as EmulatorPlan;
    // allSettled: a failure of one must not leave another listening.
    const settled = await Promise.allSettled([
      plan.dynamodb ? behindFront('dynamodb', plan.dynamodb.port, startDynamo(0, plan.dynamodb.dir)) : undefined,
      plan.s3 ? behindFront('s3', plan.s3.port, startS3(0, plan.s3.dir, plan.s3.buckets)) : undefined,
      plan.sqs ? behindFront('sqs', plan.sqs.port, startSqs(0, plan.sqs.dir)) : undefined,
    ]);
    const running: RunningEmulator[] = [];
    for (const result of settled) if (result.status === 'fulfilled' && result.value) running.push(result.value);
    const stopAll = async () => {
      await Promise.allSettled(running.splice(0).map((e) => e.stop()));
    };
    const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) {
      await stopAll();
      throw failed.reason;
    }
    const [dynamo, s3, sqs] = settled.map((r) => (r.status === 'fulfilled' ? r.value : undefined)) as [
      RunningEmulator | undefined,
      RunningEmulator | undefined,
      RunningSqs | undefined,
    ];
    return {
      value: {
        ...(dynamo ? { dynamodb: dynamo.endpoint } : {}),
        ...(s3 ? { s3: s3.endpoint } : {}),
        ...(sqs ? { sqs: sqs.endpoint } : {}),
      },
      ops: {
        replay: () => (sqs ? sqs.replay() : { replayed: 0, skipped: 0 }),
        stop: stopAll,
      },
      closeAfter: 'stop',
    };
  });
}
