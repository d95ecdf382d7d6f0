/**
 * The local stack's tables (lib/local/resources.ts): made once, found again on every start, and a
 * ledger left by an older version (an index missing, or one projecting less than the listing
 * reads) is refused with a line saying what to do, not served with rows that lack a field.
 */
import '../../helpers/setup-env';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from '@aws-sdk/client-dynamodb';
import { INDEX_PROJECTED_ATTRIBUTES } from '../../../lambda/shared/ledger/day-index';
import { ensureTables } from '../../../lib/local/resources';
import { type Emulators, LEDGER_TABLE, startEmulators } from '../../helpers/emulators';

let aws: Emulators;

beforeAll(async () => {
  aws = await startEmulators();
});

afterAll(async () => {
  await aws.stop();
});

/** Replaces the ledger table with one made by an older version. */
async function replaceLedger(indexes: readonly { name: string; key: string; projects: readonly string[] }[]) {
  await aws.dynamodb.send(new DeleteTableCommand({ TableName: LEDGER_TABLE }));
  await waitUntilTableNotExists(
    { client: aws.dynamodb, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
    { TableName: LEDGER_TABLE },
  );
  const definition: CreateTableCommandInput = {
    TableName: LEDGER_TABLE,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'recordingSid', AttributeType: 'S' },
      { AttributeName: 'startedAt', AttributeType: 'S' },
      ...indexes.map((index) => ({ AttributeName: index.key, AttributeType: 'S' as const })),
    ],
    KeySchema: [{ AttributeName: 'recordingSid', KeyType: 'HASH' }],
    GlobalSecondaryIndexes: indexes.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.key, KeyType: 'HASH' as const },
        { AttributeName: 'startedAt', KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: [...index.projects] },
    })),
  };
  await aws.dynamodb.send(new CreateTableCommand(definition));
  await waitUntilTableExists(
    { client: aws.dynamodb, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
    { TableName: LEDGER_TABLE },
  );
}

const withoutHold = INDEX_PROJECTED_ATTRIBUTES.filter((name) => name !== 'hold');

test('a second start finds the tables it made and changes nothing', async () => {
  await expect(ensureTables(aws.dynamodb)).resolves.toBeUndefined();
});

test('a ledger without the hold index is refused, naming the index and what to do', async () => {
  await replaceLedger([
    { name: 'byDayShard', key: 'dayShard', projects: INDEX_PROJECTED_ATTRIBUTES },
    { name: 'byOpenStatus', key: 'openStatus', projects: INDEX_PROJECTED_ATTRIBUTES },
  ]);

  await expect(ensureTables(aws.dynamodb)).rejects.toThrow(
    /has no index byHold as this version defines it .*remove the local data directory/,
  );
});

test('a ledger whose indexes project less than the listing reads is refused, naming those indexes', async () => {
  await replaceLedger([
    { name: 'byDayShard', key: 'dayShard', projects: withoutHold },
    { name: 'byOpenStatus', key: 'openStatus', projects: withoutHold },
    { name: 'byHold', key: 'holdState', projects: INDEX_PROJECTED_ATTRIBUTES },
  ]);

  await expect(ensureTables(aws.dynamodb)).rejects.toThrow(/has no index byDayShard, byOpenStatus as this version/);
});
