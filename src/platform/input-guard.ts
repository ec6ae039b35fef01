/**
 * Characters no request may carry, refused at the edge on every surface: U+0000 (PostgreSQL text cannot hold it, so
 * it became a 500 deep in a query) and lone surrogates (not Unicode at all: they would be stored as U+FFFD, silently
 * changing the value). Checked in the decoded path and query (`onRequest`), in HTTP Basic credentials (RFC 7617 §2,
 * how /oauth2 clients authenticate), and in the parsed body, form or JSON, keys and values at any depth
 * (`preValidation`). The error is an `Invalid` domain error with status 400, so each surface's own error handler
 * answers in its format: RFC 6749 §5.2 `invalid_request`, RFC 9457, RFC 7644 §3.12 `invalidValue`, the HTML page.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Invalid } from './errors/domain.ts';

export class InvalidCharacters extends Invalid {
  /** For handlers that map any Fastify 4xx (the OAuth and sign-in surfaces). */
  readonly statusCode = 400;
}

function isClean(s: string): boolean {
  return !s.includes('\u0000') && s.isWellFormed();
}

/** Where in `value` (strings, arrays, objects, keys included) an invalid character occurs; undefined when none. */
export function invalidCharacterPath(value: unknown): string | undefined {
  // Iterative, so a deeply nested body cannot overflow the stack; the path of a value is built only when it is the
  // offending one (each entry keeps its parent), so a clean body costs no string work on the hot path.
  type Entry = { v: unknown; key: string | number | null; parent: Entry | null };
  const pathOf = (e: Entry, last?: string): string => {
    const parts: string[] = last === undefined ? [] : [last];
    for (let x: Entry | null = e; x && x.key !== null; x = x.parent) parts.unshift(String(x.key));
    return parts.length ? `/${parts.join('/')}` : '/';
  };
  const stack: Entry[] = [{ v: value, key: null, parent: null }];
  while (stack.length) {
    const e = stack.pop()!;
    const v = e.v;
    if (typeof v === 'string') {
      if (!isClean(v)) return pathOf(e);
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], key: i, parent: e });
    } else if (v && typeof v === 'object') {
      for (const k in v) {
        if (!Object.hasOwn(v, k)) continue;
        if (!isClean(k)) return pathOf(e, k.replace(/[^\x20-\x7e]/g, '?'));
        const x = (v as Record<string, unknown>)[k];
        // Flat strings (a token request's form) are checked here, without an entry.
        if (typeof x === 'string') {
          if (!isClean(x)) return pathOf({ v: x, key: k, parent: e });
        } else stack.push({ v: x, key: k, parent: e });
      }
    }
  }
  return undefined;
}

function refuse(where: string, path?: string, what = 'contains a NUL character or an unpaired surrogate'): never {
  throw new InvalidCharacters(`The ${where}${path && path !== '/' ? ` (at ${path})` : ''} ${what}.`, { location: where });
}

const MALFORMED_PATH = Symbol('malformedPath');

function checkUrlAndCredentials(request: FastifyRequest) {
  if ((request.raw as IncomingMessage & { [MALFORMED_PATH]?: true })[MALFORMED_PATH]) refuse('path', undefined, 'has a malformed % escape');
  const url = request.url;
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  // Without a % escape the path is what arrived, and HTTP parsing already refused raw control characters.
  if (pathname.includes('%')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return refuse('path', undefined, 'has a malformed % escape');
    }
    if (!isClean(decoded)) refuse('path');
  } else if (!isClean(pathname)) refuse('path');
  const inQuery = q === -1 ? undefined : invalidCharacterPath(request.query);
  if (inQuery) refuse('query', inQuery);
  const auth = request.headers.authorization;
  if (auth && /^basic /i.test(auth)) {
    const credentials = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    let formDecoded = credentials;
    try {
      formDecoded = decodeURIComponent(credentials.replace(/\+/g, ' '));
    } catch {
      // Not form-encoded (curl -u): the raw text is what the client authenticates with.
    }
    if (!isClean(credentials) || !isClean(formDecoded)) refuse('Authorization header');
  }
}

/** Registers the checks on the root instance: they run before any surface's own hooks, for every route and 404. */
export function rejectInvalidCharacters(app: FastifyInstance) {
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      checkUrlAndCredentials(request);
    } catch (e) {
      return done(e as Error);
    }
    done();
  });
  app.addHook('preValidation', (request, _reply, done) => {
    const at = request.body === undefined ? undefined : invalidCharacterPath(request.body);
    if (at) return done(new InvalidCharacters(`The request body (at ${at}) contains a NUL character or an unpaired surrogate.`, { location: 'body' }));
    done();
  });
}

/**
 * Fastify's `frameworkErrors` option. A path whose escapes do not decode (FST_ERR_BAD_URL: `%zz`, or UTF-8 that is
 * not UTF-8) fails before routing, where no surface's error handler can answer. It is routed again with every `%`
 * escaped and a flag, so the `onRequest` check above refuses it inside the route's own surface, in its format.
 */
export function routeMalformedPaths(app: () => FastifyInstance) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error.code !== 'FST_ERR_BAD_URL') return reply.send(error);
    const raw = request.raw as IncomingMessage & { [MALFORMED_PATH]?: true };
    const url = raw.url ?? '/';
    const q = url.indexOf('?');
    raw.url = (q < 0 ? url : url.slice(0, q)).replace(/%/g, '%25') + (q < 0 ? '' : url.slice(q));
    raw[MALFORMED_PATH] = true;
    app().routing(raw, reply.raw);
  };
}
