/** Upkeep across tenants (hence `.global`): assertion IDs past their NotOnOrAfter cannot be replayed anyway. */
import { lt } from 'drizzle-orm';
import type { GlobalDb } from '../platform/db.ts';
import { samlAssertions } from '../db/schema/index.ts';

export async function purgeExpiredSamlAssertions(db: GlobalDb, now = new Date()): Promise<number> {
  return (await db.delete(samlAssertions).where(lt(samlAssertions.expiresAt, now)).returning({ id: samlAssertions.assertionId })).length;
}
