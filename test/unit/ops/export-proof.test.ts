/**
 * The `.json` beside an exported recording (lib/ops/export-proof.ts): on a resumed run the one
 * found is compared with what the ledger says now; an unchanged one is kept byte for byte, an
 * unreadable or stale one is replaced.
 */
import type { LedgerItem } from '../../../lambda/shared/ledger/ledger';
import { checkMetadata, manifestFiles, metadataText } from '../../../lib/ops/export-proof';

const SID = 'RE0123456789abcdef0123456789abcdef';
const FILE = `${SID}.mp3`;
const FIRST_RUN = '2026-12-01T10:00:00.000Z';
const NOW = '2026-12-07T21:00:00.000Z';

const item = (extra: Partial<LedgerItem> = {}): LedgerItem =>
  ({
    recordingSid: SID,
    callId: 'call-1',
    status: 'stored',
    bucket: 'recordings',
    key: `recordings/2026/12/call-1/${SID}.mp3`,
    contentType: 'audio/mpeg',
    sizeBytes: 2048,
    sha256: 'a'.repeat(64),
    startedAt: '2026-12-01T09:00:00.000Z',
    day: '2026-12-01',
    ...extra,
  }) as LedgerItem;

const held = () => item({ hold: { by: 'legal', at: FIRST_RUN, reason: 'case 42' } } as Partial<LedgerItem>);

test('a .json that still says what the ledger says is kept byte for byte', () => {
  const found = metadataText(held(), FILE, FIRST_RUN);

  expect(checkMetadata(found, held(), FILE, NOW)).toEqual({ text: found });
});

test('the order of the ledger item’s attributes does not change the bytes', () => {
  const reordered = Object.fromEntries(Object.entries(held()).reverse()) as unknown as LedgerItem;

  expect(metadataText(reordered, FILE, FIRST_RUN)).toBe(metadataText(held(), FILE, FIRST_RUN));
});

test('a .json with the same facts in another layout (key order, whitespace) is kept', () => {
  const facts = JSON.parse(metadataText(held(), FILE, FIRST_RUN)) as Record<string, unknown>;
  const reordered = Object.fromEntries(Object.entries(facts).reverse());
  const found = JSON.stringify({ ...reordered, ledger: Object.fromEntries(Object.entries(held()).reverse()) });

  expect(checkMetadata(found, held(), FILE, NOW)).toEqual({ text: found });
});

test.each([
  ['not JSON', '{"garbage"\n'],
  ['JSON but not an object', '[1, 2]\n'],
  ['another recording’s', metadataText(item({ recordingSid: 'RE'.padEnd(34, 'f') }), FILE, FIRST_RUN)],
  ['without exportedAt', `${JSON.stringify({ recordingSid: SID })}\n`],
])('a .json that is %s is rewritten from the ledger', (_what, found) => {
  const checked = checkMetadata(found, held(), FILE, NOW);

  expect(checked.rewrite).toEqual({ reason: 'unreadable', fields: [] });
  expect(checked.text).toBe(metadataText(held(), FILE, NOW));
});

test('a .json that still shows a hold the ledger no longer has is rewritten, naming what changed', () => {
  const found = metadataText(held(), FILE, FIRST_RUN);

  const checked = checkMetadata(found, item(), FILE, NOW);

  expect(checked.rewrite).toEqual({ reason: 'stale', fields: ['hold', 'ledger'] });
  expect(JSON.parse(checked.text)).toMatchObject({ hold: null, exportedAt: NOW });
});

test('the manifest’s hash line is the sha256sum of the manifest', () => {
  const { manifest, sha256, hashLine } = manifestFiles({
    from: '2026-12-01T00:00:00.000Z',
    to: '2026-12-02T00:00:00.000Z',
    source: 'the local stack',
    exportedAt: NOW,
    exportedBy: 'alice',
    recordings: [],
    failures: [],
  });

  expect(hashLine).toBe(`${sha256}  manifest.json\n`);
  expect(JSON.parse(manifest).counts).toEqual({ recordings: 0, failed: 0 });
});
