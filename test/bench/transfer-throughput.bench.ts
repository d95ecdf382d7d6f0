/**
 * 3. Transfer throughput: time to move a recording from a stub Twilio (full speed) into s3rver,
 * product path against a plain lib-storage Upload of the same stream to the same endpoint, runs
 * interleaved (ABBA) in one warmed-up process per size. Then a sweep of part size × queue size
 * (plain Upload, 100 MiB, a fresh process each) to choose UPLOAD_PART_SIZE / UPLOAD_QUEUE_SIZE.
 */
import { UPLOAD_PART_SIZE, UPLOAD_QUEUE_SIZE } from '../../lambda/shared/storage/recording-upload';
import { type Figure, figure, fmt, printFigure, runBench, stats } from './lib/report';
import { benchSizesMiB, MiB } from './lib/sizes';
import type { RunResult, TransferRun } from './lib/transfer-common';
import { runWorker, startServers } from './lib/transfer-harness';

/** At most this many times a plain upload of the same stream (docs/benchmarks.md). */
const RATIO_LIMIT = 1.1;

/** Pairs of (product, plain) runs per size: fewer for 1 GiB, to stay inside the 10-minute budget. */
function pairs(sizeMiB: number): number {
  const override = process.env.BENCH_THROUGHPUT_PAIRS;
  if (override) return Number(override);
  return sizeMiB >= 1024 ? 2 : sizeMiB >= 100 ? 4 : 8;
}

const SWEEP_SIZE_MIB = Number(process.env.BENCH_SWEEP_SIZE_MIB ?? 100);
const SWEEP_PART_MIB = [5, 8, 16];
const SWEEP_QUEUE = [2, 4, 8];
/** Rounds over every setting, one fresh process per run (clean RSS), so drift spreads over all settings. */
const SWEEP_ROUNDS = Number(process.env.BENCH_SWEEP_ROUNDS ?? 2);

runBench('transfer-throughput', '3. Transfer throughput: product against a plain lib-storage upload', async () => {
  const servers = await startServers();
  try {
    console.log(
      `  s3rver data on ${servers.s3Directory}; product uses ${UPLOAD_PART_SIZE / MiB} MiB parts × ${UPLOAD_QUEUE_SIZE} in flight; baseline lib-storage defaults (5 MiB × 4)`,
    );
    const figures: Figure[] = [];
    const samples: Record<string, RunResult[]> = {};
    for (const sizeMiB of benchSizesMiB()) {
      // Interleaved, rotating the order, so drift on a shared machine hits every variant alike. The
      // control (plain Upload with the product's part and queue size) separates the product's own
      // overhead from its tuning; skipped for the largest file to stay inside the time budget.
      const withControl = sizeMiB < 1024;
      const variants: TransferRun[] = [
        { mode: 'product', sizeBytes: sizeMiB * MiB },
        { mode: 'plain', sizeBytes: sizeMiB * MiB },
        ...(withControl
          ? [
              {
                mode: 'plain' as const,
                sizeBytes: sizeMiB * MiB,
                partSize: UPLOAD_PART_SIZE,
                queueSize: UPLOAD_QUEUE_SIZE,
              },
            ]
          : []),
      ];
      const runs: TransferRun[] = [];
      for (let i = 0; i < pairs(sizeMiB); i++) {
        for (let j = 0; j < variants.length; j++) runs.push(variants[(i + j) % variants.length] as TransferRun);
      }
      const results = await runWorker(servers, runs);
      samples[`${sizeMiB}MiB`] = results;
      const pick = (kind: 'product' | 'plain' | 'control') =>
        results.filter((r) =>
          kind === 'product'
            ? r.mode === 'product'
            : r.mode === 'plain' && (r.partSize !== undefined) === (kind === 'control'),
        );
      const seconds = (kind: 'product' | 'plain' | 'control') => pick(kind).map((r) => r.ms / 1000);
      const rate = (kind: 'product' | 'plain' | 'control') => stats(pick(kind).map((r) => r.mibPerSecond)).median;
      const value = stats(seconds('product'));
      const baseline = stats(seconds('plain'));
      const control = withControl ? stats(seconds('control')) : undefined;
      const f = figure({
        bench: 'transfer-throughput',
        name: `${sizeMiB} MiB recording, transfer time`,
        unit: 's',
        value,
        baselineName: 'plain lib-storage Upload (defaults)',
        baseline,
        target: `≤ ${RATIO_LIMIT}× baseline`,
        met: value.median / baseline.median <= RATIO_LIMIT,
        notes: `${fmt(rate('product'), 0)} MiB/s vs ${fmt(rate('plain'), 0)} MiB/s${
          control
            ? `; control, plain Upload at the product's ${UPLOAD_PART_SIZE / MiB} MiB × ${UPLOAD_QUEUE_SIZE}: ${fmt(
                control.median,
                2,
              )} s (${fmt(rate('control'), 0)} MiB/s), product/control ${fmt(value.median / control.median, 2)}×`
            : ''
        }`,
      });
      printFigure(f);
      figures.push(f);
    }

    // Tuning sweep: the same plain Upload with each part size × queue size, round after round,
    // one fresh process per run so each run's RSS growth is clean. BENCH_SWEEP_ROUNDS=0 skips it.
    if (SWEEP_ROUNDS <= 0) {
      return { figures, details: { product: { partSize: UPLOAD_PART_SIZE, queueSize: UPLOAD_QUEUE_SIZE }, samples } };
    }
    console.log(
      `\n  tuning sweep: plain Upload of ${SWEEP_SIZE_MIB} MiB, ${SWEEP_ROUNDS} rounds over all settings, a fresh process per run`,
    );
    const settings = SWEEP_PART_MIB.flatMap((partMiB) => SWEEP_QUEUE.map((queueSize) => ({ partMiB, queueSize })));
    const sweepRuns = new Map<string, RunResult[]>();
    for (let round = 0; round < SWEEP_ROUNDS; round++) {
      for (const { partMiB, queueSize } of round % 2 === 0 ? settings : [...settings].reverse()) {
        const [result] = await runWorker(servers, [
          { mode: 'plain', sizeBytes: SWEEP_SIZE_MIB * MiB, partSize: partMiB * MiB, queueSize },
        ]);
        const key = `${partMiB}x${queueSize}`;
        if (result) sweepRuns.set(key, [...(sweepRuns.get(key) ?? []), result]);
      }
    }
    console.log('    part × queue   time s (min/med/max)        MiB/s   RSS growth MiB (max)   (q+1)×part MiB');
    const sweep = settings.map(({ partMiB, queueSize }) => {
      const results = sweepRuns.get(`${partMiB}x${queueSize}`) ?? [];
      const seconds = stats(results.map((r) => r.ms / 1000));
      const growthMiB = stats(results.map((r) => r.peakGrowthMiB)).max;
      const current = partMiB * MiB === UPLOAD_PART_SIZE && queueSize === UPLOAD_QUEUE_SIZE ? '  ← product' : '';
      console.log(
        `    ${`${partMiB} MiB × ${queueSize}`.padEnd(14)} ${`${fmt(seconds.min, 2)} / ${fmt(seconds.median, 2)} / ${fmt(
          seconds.max,
          2,
        )}`.padEnd(27)} ${fmt(SWEEP_SIZE_MIB / seconds.median, 0).padStart(5)}   ${fmt(growthMiB, 0).padStart(
          20,
        )}   ${String((queueSize + 1) * partMiB).padStart(14)}${current}`,
      );
      return { partMiB, queueSize, seconds, growthMiB };
    });
    const fastest = [...sweep].sort((a, b) => a.seconds.median - b.seconds.median)[0];
    const withinBudget = sweep.filter((s) => s.growthMiB < 80).sort((a, b) => a.seconds.median - b.seconds.median)[0];
    if (fastest)
      console.log(`  fastest: ${fastest.partMiB} MiB × ${fastest.queueSize} (${fmt(fastest.seconds.median, 2)} s)`);
    if (withinBudget) {
      console.log(
        `  fastest with RSS growth < 80 MiB: ${withinBudget.partMiB} MiB × ${withinBudget.queueSize} (${fmt(
          withinBudget.seconds.median,
          2,
        )} s, ${fmt(withinBudget.growthMiB, 0)} MiB)`,
      );
    }
    return {
      figures,
      details: {
        product: { partSize: UPLOAD_PART_SIZE, queueSize: UPLOAD_QUEUE_SIZE },
        samples,
        sweep: { sizeMiB: SWEEP_SIZE_MIB, rounds: SWEEP_ROUNDS, results: sweep },
      },
    };
  } finally {
    await servers.stop();
  }
});
