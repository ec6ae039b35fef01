import { customType, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { TenantId } from '../../platform/tenancy/tenant.ts';

export const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Every tenant-owned table starts with this column; `forTenant` relies on the property name `tenantId`. A new table
 * with it also needs its row-level security policy (`iam_isolate_tenant_table`, test/db/row-level-security.test.ts).
 */
export const tenantId = () => uuid('tenant_id').$type<TenantId>().notNull();

export const timestamps = {
  createdAt: timestamptz('created_at').notNull().defaultNow(),
  updatedAt: timestamptz('updated_at')
    .notNull()
    .defaultNow()
    .$onUpdate(() => new Date()),
};

/** Hashes and other binary values. */
export const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });
