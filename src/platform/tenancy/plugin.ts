/**
 * Host → tenant, once per request, before any route of the tenant-scoped context runs.
 * Multi-tenant installs answer unknown hosts with 404; single-tenant installs serve them as the default tenant.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { GlobalDb } from '../db.ts';
import { Problem, PROBLEM_CONTENT_TYPE } from '../errors/problem.ts';
import { normalizeHost, stripPort, type Tenant } from './tenant.ts';
import { findTenantByHosts, findTenantBySlug } from './tenant.global.ts';
import { BoundedMap } from '../bounded-map.ts';

/** Host names remembered per instance (least recently used forgotten first); docs/scale-out.md lists every such bound. */
export const HOST_CACHE_MAX = 100_000;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the tenancy plugin for every route in a tenant-scoped context. */
    tenant: Tenant;
  }
}

export interface TenancyOptions {
  /** The bypass handle: a host is resolved before any tenant is known. */
  db: GlobalDb;
  mode: 'single' | 'multi';
  defaultTenantSlug: string;
  /** How long a resolved host is remembered; tenants and hosts rarely change. */
  cacheMs?: number;
}

export class TenantResolver {
  readonly #cache = new BoundedMap<string, { tenant: Tenant | undefined; until: number }>(HOST_CACHE_MAX);
  readonly opts: TenancyOptions;
  constructor(opts: TenancyOptions) {
    this.opts = opts;
  }

  /** The cached answer for a host, without waiting: `null` when it must be looked up. */
  cached(hostHeader: string | undefined): Tenant | undefined | null {
    const hit = this.#cache.get(normalizeHost(hostHeader ?? ''));
    return hit && hit.until > Date.now() ? hit.tenant : null;
  }

  async resolve(hostHeader: string | undefined): Promise<Tenant | undefined> {
    const hit = this.cached(hostHeader);
    if (hit !== null) return hit;
    const host = normalizeHost(hostHeader ?? '');
    const candidates = [...new Set([host, stripPort(host)])].filter(Boolean);
    let tenant: Tenant | undefined = candidates.length ? await findTenantByHosts(this.opts.db, candidates) : undefined;
    if (tenant) tenant = { id: tenant.id, slug: tenant.slug, displayName: tenant.displayName, issuer: tenant.issuer };
    else if (this.opts.mode === 'single') tenant = await findTenantBySlug(this.opts.db, this.opts.defaultTenantSlug);
    // Unknown hosts are remembered briefly, so a tenant created elsewhere shows up within seconds.
    this.#cache.set(host, { tenant, until: Date.now() + (tenant ? (this.opts.cacheMs ?? 30_000) : 2_000) });
    return tenant;
  }

  forget(): void {
    this.#cache.clear();
  }
}

export const tenancyPlugin = fp(
  async (app: FastifyInstance, opts: { resolver: TenantResolver }) => {
    if (!app.hasRequestDecorator('tenant')) app.decorateRequest('tenant', null as unknown as Tenant);
    const answer = (tenant: Tenant | undefined, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
      if (!tenant) {
        const p = new Problem(404, 'unknown-host', 'Unknown host', 'No tenant is configured for this host name.');
        reply.status(404).type(PROBLEM_CONTENT_TYPE).send(p.body());
        return;
      }
      request.tenant = tenant;
      done();
    };
    // Callback style: a cached host (nearly every request) costs no promise.
    app.addHook('onRequest', (request, reply, done) => {
      const cached = opts.resolver.cached(request.headers.host);
      if (cached !== null) return answer(cached, request, reply, done);
      opts.resolver.resolve(request.headers.host).then((tenant) => answer(tenant, request, reply, done), done);
    });
  },
  { name: 'tenancy' },
);
