import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailed } from '../runtime/dynamo-conditions';
import type { LedgerItem, LegalHold } from './ledger';

/**
 * Legal holds in the ledger (PUT / DELETE /recordings/{recordingSid}/hold). A hold is the
 * ledger item's `hold` (who, when, why); while it is there no erasure can start, because the
 * erasure's own conditional write (`markErasing`) requires its absence, and a hold cannot be placed
 * once an erasure has started. So a hold and an erasure never both win, whatever their timing.
 *
 * `holdState` keys the sparse `byHold` index: `held` while held (GET /recordings?hold=true),
 * `released` after release until the recording is erased or expired. (The retention sweep keeps
 * its own list of what it passed by: lambda/retention/sweep-run.ts.)
 */

/** Statuses a hold may be placed on: anything not being or already erased. */
const HOLDABLE = ['transferring', 'stored', 'failed', 'absent'] as const;

export type PlaceHoldOutcome =
  | { readonly result: 'held'; readonly item: LedgerItem }
  /** Already on hold: the first hold stands unchanged (release it to change the reason). */
  | { readonly result: 'already-held'; readonly item: LedgerItem }
  /** Being erased, erased or expired: too late to hold. */
  | { readonly result: 'erased'; readonly item: LedgerItem }
  | { readonly result: 'not-found' };

export type ReleaseHoldOutcome =
  | { readonly result: 'released'; readonly hold: LegalHold; readonly item: LedgerItem }
  | { readonly result: 'not-held'; readonly item: LedgerItem }
  | { readonly result: 'not-found' };

export class LedgerHold {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  /** Puts the recording on hold, with a note; a repeat finds it held and changes nothing. */
  async placeHold(recordingSid: string, hold: LegalHold, now: Date): Promise<PlaceHoldOutcome> {
    try {
      const result = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { recordingSid },
          UpdateExpression:
            'SET #hold = :hold, holdState = :held, updatedAt = :now, notes = list_append(if_not_exists(notes, :none), :note)',
          ConditionExpression: `attribute_exists(recordingSid) AND attribute_not_exists(#hold) AND #status IN (${HOLDABLE.map((_, i) => `:s${i}`).join(', ')})`,
          ExpressionAttributeNames: { '#hold': 'hold', '#status': 'status' },
          ExpressionAttributeValues: {
            ':hold': hold,
            ':held': 'held',
            ':now': now.toISOString(),
            ':none': [],
            // The reason is bounded (500 code points) already; cut on code points, never mid-character.
            ':note': [Array.from(`${hold.at} legal hold placed by ${hold.by}: ${hold.reason}`).slice(0, 1000).join('')],
            ...Object.fromEntries(HOLDABLE.map((status, i) => [`:s${i}`, status])),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { result: 'held', item: result.Attributes as LedgerItem };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    const item = await this.read(recordingSid);
    if (!item) return { result: 'not-found' };
    if (item.hold) return { result: 'already-held', item };
    return { result: 'erased', item };
  }

  /**
   * Releases the hold, with a note naming who released it and the hold it ends; the item turns
   * `released` in the `byHold` index. A repeat finds nothing held and changes nothing.
   */
  async releaseHold(recordingSid: string, by: string, now: Date): Promise<ReleaseHoldOutcome> {
    const at = now.toISOString();
    try {
      const result = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { recordingSid },
          UpdateExpression:
            'SET holdState = :released, updatedAt = :now, notes = list_append(if_not_exists(notes, :none), :note) REMOVE #hold, heldEventAt',
          ConditionExpression: 'attribute_exists(#hold)',
          ExpressionAttributeNames: { '#hold': 'hold' },
          ExpressionAttributeValues: {
            ':released': 'released',
            ':now': at,
            ':none': [],
            ':note': [`${at} legal hold released by ${by}`],
          },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const before = result.Attributes as LedgerItem;
      const { hold, ...rest } = before;
      return {
        result: 'released',
        hold: hold as LegalHold,
        item: { ...rest, holdState: 'released', updatedAt: at },
      };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    const item = await this.read(recordingSid);
    return item ? { result: 'not-held', item } : { result: 'not-found' };
  }

  /**
   * Notes that `Recording Held` went out for the hold placed at `holdAt`; false when that hold is
   * no longer there (released meanwhile). Not projected by any index: it writes none.
   */
  async markHeldAnnounced(recordingSid: string, holdAt: string, now: Date): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { recordingSid },
          UpdateExpression: 'SET heldEventAt = :now',
          ConditionExpression: '#hold.#at = :holdAt',
          ExpressionAttributeNames: { '#hold': 'hold', '#at': 'at' },
          ExpressionAttributeValues: { ':now': now.toISOString(), ':holdAt': holdAt },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  /** Keeps the release whose event could not be published (by, at: the release; reason: the hold's). */
  async keepReleaseToAnnounce(recordingSid: string, release: LegalHold): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { recordingSid },
        UpdateExpression: 'SET releaseToAnnounce = :release',
        ConditionExpression: 'attribute_exists(recordingSid)',
        ExpressionAttributeValues: { ':release': release },
      }),
    );
  }

  /** Forgets the release kept by `keepReleaseToAnnounce` once its event went out (only that one). */
  async forgetReleaseToAnnounce(recordingSid: string, releasedAt: string): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { recordingSid },
          UpdateExpression: 'REMOVE releaseToAnnounce',
          ConditionExpression: 'releaseToAnnounce.#at = :at',
          ExpressionAttributeNames: { '#at': 'at' },
          ExpressionAttributeValues: { ':at': releasedAt },
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
  }

  private async read(recordingSid: string): Promise<LedgerItem | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { recordingSid }, ConsistentRead: true }),
    );
    return result.Item as LedgerItem | undefined;
  }
}
