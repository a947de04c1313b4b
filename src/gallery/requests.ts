import type { Clock } from '../util/clock.js';
import type { GalleryDatabase } from './database.js';
import { GalleryInputError } from './errors.js';
import { NONCE_PRUNE_EVERY_INSERTS } from './retention.js';
import { validateTransactionId } from './validate.js';

/** A response to store under a request's transaction id in the SAME SQL transaction as its change. */
export interface TransactionRecord<R> {
  readonly id: string;
  readonly response: (result: R) => unknown;
}

/**
 * What the signed request protocol remembers (tables `nonces` and `transactions`):
 * nonces already seen (replay guard, kept until the request expires) and the stored
 * response of every processed transaction (idempotency: a re-delivered request is
 * answered from here and never applied twice).
 */
export class RequestLog {
  private nonceInsertsSincePrune = 0;

  constructor(
    private readonly db: GalleryDatabase,
    private readonly clock: Clock,
  ) {}

  /**
   * Remembers a request nonce until `expiresAtMs` (wall clock). Returns false when the
   * nonce was already seen (a replay). Expired nonces are pruned now and then.
   * @throws GalleryInputError for an empty or over-long nonce or a non-finite expiry.
   */
  rememberNonce(nonce: string, expiresAtMs: number): boolean {
    // Any opaque key up to 256 characters: the protocol's stricter NONCE_PATTERN (src/identity.ts)
    // is checked by the verifier before the nonce gets here.
    if (typeof nonce !== 'string' || nonce.length === 0 || nonce.length > 256) {
      throw new GalleryInputError('nonce must be a string of 1..256 characters');
    }
    if (!Number.isFinite(expiresAtMs)) throw new GalleryInputError('nonce expiry must be a finite time');
    if (++this.nonceInsertsSincePrune >= NONCE_PRUNE_EVERY_INSERTS) {
      this.nonceInsertsSincePrune = 0;
      this.pruneNonces();
    }
    const info = this.db
      .sql(`INSERT OR IGNORE INTO nonces(nonce, expires_ms) VALUES (?, ?)`)
      .run(nonce, Math.round(expiresAtMs));
    return info.changes === 1;
  }

  /** Deletes nonces whose expiry has passed; returns how many. */
  pruneNonces(nowMs: number = this.clock.nowMs()): number {
    return this.db.sql(`DELETE FROM nonces WHERE expires_ms < ?`).run(nowMs).changes;
  }

  /** The stored response of an already processed request transaction, or undefined. */
  getTransaction(transactionId: string): unknown {
    const row = this.db.sql(`SELECT response FROM transactions WHERE id = ?`).get(transactionId) as
      { response: string } | undefined;
    return row ? JSON.parse(row.response) : undefined;
  }

  /**
   * Stores a request's response (first write wins: returns false if the id was already
   * stored). Joins the caller's SQL transaction when called inside one.
   * @throws GalleryInputError for an id that breaks the transaction id rule (src/identity.ts).
   */
  putTransaction(transactionId: string, response: unknown, nowMs: number = this.clock.nowMs()): boolean {
    validateTransactionId(transactionId);
    const json = JSON.stringify(response ?? null);
    return (
      this.db
        .sql(`INSERT OR IGNORE INTO transactions(id, response, created_ms) VALUES (?, ?, ?)`)
        .run(transactionId, json, nowMs).changes === 1
    );
  }

  /** Deletes processed-transaction records older than `olderThanMs` (wall clock). */
  pruneTransactions(olderThanMs: number): number {
    return this.db.sql(`DELETE FROM transactions WHERE created_ms < ?`).run(olderThanMs).changes;
  }
}
