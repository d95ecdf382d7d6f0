/**
 * 2. Transfer memory: peak RSS growth of one transfer (stub Twilio at full speed → s3rver), in a
 * fresh process per transfer so that heap grown by an earlier run never hides or inflates it.
 * Product (createTwilioApi().fetchRecordingAudio → RecordingStore.uploadRecording) against a
 * plain lib-storage Upload with its defaults. Target: under 100 MiB for every size.
 */
import { type Figure, figure, fmt, printFigure, runBench, stats } from './lib/report';
import { benchSizesMiB, MiB } from './lib/sizes';
import type { RunResult, TransferMode } from './lib/transfer-common';
import { runWorker, startServers } from './lib/transfer-harness';

const LIMIT_MIB = 100;
/** Fresh processes per size and mode: fewer for the big file, to stay inside the 10-minute budget. */
function repetitions(sizeMiB: number): number {
  const override = process.env.BENCH_MEMORY_RUNS;
  if (override) return Number(override);
  return sizeMiB >= 1024 ? 1 : 3;
}

runBench('transfer-memory', '2. Transfer memory: peak RSS growth per recording size', async () => {
  const servers = await startServers();
  try {
    console.log(`  s3rver data on ${servers.s3Directory}; one fresh process per transfer, after a 1 MiB warm-up`);
    const figures: Figure[] = [];
    const samples: Record<string, RunResult[]> = {};
    const medians: number[] = [];
    for (const sizeMiB of benchSizesMiB()) {
      const runs: Record<TransferMode, RunResult[]> = { product: [], plain: [] };
      for (let i = 0; i < repetitions(sizeMiB); i++) {
        // Alternate which goes first so drift on a shared machine hits both alike.
        const order: TransferMode[] = i % 2 === 0 ? ['product', 'plain'] : ['plain', 'product'];
        for (const mode of order) {
          const [result] = await runWorker(servers, [{ mode, sizeBytes: sizeMiB * MiB }]);
          if (result) runs[mode].push(result);
        }
      }
      samples[`${sizeMiB}MiB`] = [...runs.product, ...runs.plain];
      const value = stats(runs.product.map((r) => r.peakGrowthMiB));
      medians.push(value.median);
      const f = figure({
        bench: 'transfer-memory',
        name: `${sizeMiB} MiB recording, peak RSS growth`,
        unit: 'MiB',
        value,
        baselineName: 'plain lib-storage Upload (defaults 5 MiB × 4)',
        baseline: stats(runs.plain.map((r) => r.peakGrowthMiB)),
        target: `< ${LIMIT_MIB} MiB (every run)`,
        met: value.max < LIMIT_MIB,
        notes: `RSS before ${fmt(stats(runs.product.map((r) => r.rssBeforeMiB)).median, 0)} MiB; transfer ${fmt(
          stats(runs.product.map((r) => r.ms)).median / 1000,
          1,
        )} s`,
      });
      printFigure(f);
      figures.push(f);
    }
    if (medians.length > 1) {
      const flat = Math.max(...medians) / Math.max(1, Math.min(...medians));
      console.log(`  largest / smallest median growth across sizes: ${fmt(flat, 2)}× (flat in file size ≈ 1×)`);
    }
    return { figures, details: { samples } };
  } finally {
    await servers.stop();
  }
});
