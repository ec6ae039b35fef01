/** Property tests (fast-check) for the pure PATCH function, RFC 7644 §3.5.2, and its Entra ID / Okta dialects. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyPatch, parsePatchRequest, type PatchOperation } from '../../../src/scim/patch/apply.ts';
import { matches } from '../../../src/scim/patch/match.ts';
import { parseFilter } from '../../../src/scim/filter/index.ts';
import { normalizeResource, type Resource } from '../../../src/scim/schema/validate.ts';
import { findAttr, USER_TYPE, ENTERPRISE_SCHEMA } from '../../../src/scim/schema/definitions.ts';

const ctx = { type: USER_TYPE, id: 'u-1' };
const EMAILS = findAttr(USER_TYPE.schema.attributes, 'emails')!;
const text = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s.trim() === s && s.length > 0);
const emailType = fc.constantFrom('work', 'home', 'other');
const email = fc.record({ value: fc.emailAddress(), type: emailType, primary: fc.boolean() }, { requiredKeys: ['value'] });

const resourceArb: fc.Arbitrary<Resource> = fc
  .record(
    {
      userName: text,
      nickName: text,
      title: text,
      active: fc.boolean(),
      name: fc.record({ givenName: text, familyName: text }, { requiredKeys: [] }),
      emails: fc.array(email, { maxLength: 4 }),
      [ENTERPRISE_SCHEMA]: fc.record({ department: text, manager: fc.record({ value: text }) }, { requiredKeys: [] }),
    },
    { requiredKeys: ['userName'] },
  )
  .map((r) => {
    // Valid resources: at most one primary email.
    const emails = (r.emails as Record<string, unknown>[] | undefined)?.map((e, i) => (i === 0 ? e : { ...e, primary: false }));
    return normalizeResource(USER_TYPE, { ...r, ...(emails ? { emails } : {}) });
  });

const simplePath = fc.constantFrom('nickName', 'title', 'displayName', 'name.givenName', 'name.familyName', `${ENTERPRISE_SCHEMA}:department`, `${ENTERPRISE_SCHEMA}:manager`);
const opName = fc.constantFrom('add', 'replace', 'remove') as fc.Arbitrary<PatchOperation['op']>;
const op: fc.Arbitrary<PatchOperation> = fc.oneof(
  fc.record({ op: opName, path: simplePath, value: text }),
  fc.record({
    op: fc.constantFrom('add', 'replace') as fc.Arbitrary<PatchOperation['op']>,
    path: fc.constant('emails'),
    value: fc.array(email, { minLength: 1, maxLength: 2 }).map((l) => l.map((e, i) => (i ? { ...e, primary: false } : e))),
  }),
  fc.record({ op: opName, path: emailType.map((t) => `emails[type eq "${t}"].value`), value: fc.emailAddress() }),
  fc.record({ op: fc.constant('remove' as const), path: emailType.map((t) => `emails[type eq "${t}"]`) }),
  fc.record({ op: fc.constant('replace' as const), path: fc.constant('active'), value: fc.boolean() }),
);

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    Object.values(o).forEach(deepFreeze);
    Object.freeze(o);
  }
  return o;
}

describe('applyPatch properties', () => {
  it('is pure: never changes its input, and the same input gives the same output', () => {
    fc.assert(
      fc.property(resourceArb, fc.array(op, { maxLength: 6 }), (res, ops) => {
        const before = structuredClone(res);
        let out1: Resource | undefined;
        let err1: unknown;
        try {
          out1 = applyPatch(ctx, deepFreeze(res), ops);
        } catch (e) {
          err1 = e;
        }
        expect(res).toEqual(before);
        let out2: Resource | undefined;
        try {
          out2 = applyPatch(ctx, res, ops);
        } catch (e) {
          expect(err1).toBeDefined();
          expect((e as Error).message).toBe((err1 as Error).message);
        }
        expect(out2).toEqual(out1);
      }),
    );
  });

  it('results are valid resources: they normalize unchanged, with at most one primary email; failures are 400s', () => {
    fc.assert(
      fc.property(resourceArb, fc.array(op, { maxLength: 6 }), (res, ops) => {
        let out: Resource;
        try {
          out = applyPatch(ctx, res, ops);
        } catch (e) {
          expect((e as { status?: number }).status).toBe(400);
          return;
        }
        expect(normalizeResource(USER_TYPE, out)).toEqual(out);
        expect(((out.emails as { primary?: boolean }[] | undefined) ?? []).filter((e) => e.primary).length).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('replace is idempotent; remove after add leaves the attribute absent', () => {
    fc.assert(
      fc.property(resourceArb, simplePath, text, (res, path, value) => {
        const once = applyPatch(ctx, res, [{ op: 'replace', path, value }]);
        expect(applyPatch(ctx, once, [{ op: 'replace', path, value }])).toEqual(once);
        const removed = applyPatch(ctx, res, [{ op: 'add', path, value }, { op: 'remove', path }]);
        const local = path.startsWith('urn:') ? path.slice(ENTERPRISE_SCHEMA.length + 1) : path;
        const [attr, sub] = local.split('.');
        const container = path.startsWith('urn:') ? (removed[ENTERPRISE_SCHEMA] as Record<string, unknown> | undefined) : removed;
        const v = container?.[attr!];
        expect(sub ? (v as Record<string, unknown> | undefined)?.[sub] : v).toBeUndefined();
      }),
    );
  });

  it('remove with a value filter leaves no value that matches it', () => {
    fc.assert(
      fc.property(resourceArb, emailType, (res, t) => {
        const f = `type eq "${t}"`;
        const out = applyPatch(ctx, res, [{ op: 'remove', path: `emails[${f}]` }]);
        const left = (out.emails as unknown[] | undefined) ?? [];
        expect(left.some((e) => matches(parseFilter(f), e, EMAILS))).toBe(false);
      }),
    );
  });

  it('Entra ID: capitalized op names and "True"/"False" strings mean the same as the RFC spelling', () => {
    fc.assert(
      fc.property(resourceArb, fc.boolean(), fc.constantFrom('Replace', 'REPLACE', 'replace', 'Add'), (res, active, name) => {
        const entra = parsePatchRequest({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: name, path: 'active', value: active ? 'True' : 'False' }] });
        const rfc = parsePatchRequest({ Operations: [{ op: name.toLowerCase(), path: 'active', value: active }] });
        expect(applyPatch(ctx, res, entra)).toEqual(applyPatch(ctx, res, rfc));
      }),
    );
  });

  it('Entra ID: a no-path replace with dotted and URN keys equals the same replaces with paths', () => {
    fc.assert(
      fc.property(resourceArb, text, text, text, (res, dn, given, dep) => {
        const noPath = applyPatch(ctx, res, [{ op: 'replace', value: { displayName: dn, 'name.givenName': given, [`${ENTERPRISE_SCHEMA}:department`]: dep } }]);
        const withPaths = applyPatch(ctx, res, [
          { op: 'replace', path: 'displayName', value: dn },
          { op: 'replace', path: 'name.givenName', value: given },
          { op: 'replace', path: `${ENTERPRISE_SCHEMA}:department`, value: dep },
        ]);
        expect(noPath).toEqual(withPaths);
      }),
    );
  });

  it('setting primary true on one email sets it false on every other (§3.5.2)', () => {
    fc.assert(
      fc.property(resourceArb, fc.emailAddress(), (res, value) => {
        const out = applyPatch(ctx, res, [{ op: 'add', path: 'emails', value: [{ value, type: 'other', primary: true }] }]);
        const primaries = (out.emails as { value: string; primary?: boolean }[]).filter((e) => e.primary);
        expect(primaries.map((e) => e.value)).toEqual([value]);
      }),
    );
  });
});
