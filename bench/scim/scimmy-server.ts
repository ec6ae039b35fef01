/**
 * The comparison peer: a SCIM server built on the npm packages `scimmy` + `scimmy-routers` (Express), holding the
 * benchmark's users in memory (bench/scim/data.ts), as its documentation shows. Filters, sorting and paging are
 * SCIMMY's own (Filter#match over the held users, then ListResponse). Auth: a fixed bearer token compared in
 * constant time (no signature check, no database). Prints READY when listening.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import express from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';
import { userBody } from './data.ts';

const PORT = Number(process.env.PORT);
const USERS = Number(process.env.BENCH_USERS);
const TOKEN = Buffer.from(process.env.PEER_TOKEN ?? '');
const now = new Date().toISOString();

type Held = Record<string, unknown> & { id: string };
const users: Held[] = [];
const byId = new Map<string, Held>();
for (let i = 0; i < USERS; i++) {
  const u = { ...userBody(i), id: randomUUID(), meta: { created: now, lastModified: now } } as Held;
  users.push(u);
  byId.set(u.id, u);
}

// The handlers are typed loosely: SCIMMY's own types describe its schema classes, not plain held objects.
/* eslint-disable @typescript-eslint/no-explicit-any */
const declared: any = SCIMMY.Resources.declare(SCIMMY.Resources.User);
declared
  .egress((resource: { id?: string; filter?: { match(values: unknown[]): unknown[] } }) => {
    if (resource.id) {
      const u = byId.get(resource.id);
      if (!u) throw new Error('not found');
      return u;
    }
    return resource.filter ? resource.filter.match(users) : users;
  })
  .ingress((_resource: unknown, instance: Record<string, unknown>) => {
    const u = { ...instance, id: randomUUID(), meta: { created: now, lastModified: now } } as Held;
    users.push(u);
    byId.set(u.id, u);
    return u;
  })
  .degress(() => {});

const app = express();
app.use(
  '/scim/v2',
  new SCIMMYRouters({
    type: 'bearer',
    docUri: 'http://127.0.0.1/',
    handler: (request: express.Request) => {
      const h = Buffer.from(request.header('authorization')?.replace(/^Bearer /, '') ?? '');
      if (h.length !== TOKEN.length || !timingSafeEqual(h, TOKEN)) throw new Error('Authorization failed');
      return 'bench';
    },
  }),
);
app.listen(PORT, '127.0.0.1', () => console.log('READY'));
