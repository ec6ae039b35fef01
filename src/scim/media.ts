/**
 * The SCIM media type, RFC 7644 §3.1 and §8.1, https://www.rfc-editor.org/rfc/rfc7644#section-8.1
 * Requests may be `application/scim+json` or `application/json`; responses are `application/scim+json` unless the
 * client's Accept names only `application/json`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const SCIM_CONTENT_TYPE = 'application/scim+json';
const JSON_TYPES = ['application/scim+json', 'application/json'];

export function responseType(request: FastifyRequest): string {
  const accept = request.headers.accept?.toLowerCase();
  if (accept && accept.includes('application/json') && !accept.includes('scim+json')) return 'application/json; charset=utf-8';
  return `${SCIM_CONTENT_TYPE}; charset=utf-8`;
}

/** Serializes once, with the negotiated type. */
export function sendScim(request: FastifyRequest, reply: FastifyReply, body: unknown) {
  return reply.type(responseType(request)).send(JSON.stringify(body));
}

/**
 * A JSON parser for both media types. A body holding `__proto__` or `constructor.prototype` keys is rejected
 * (400 invalidSyntax): values are later merged into objects, and such keys have no meaning in SCIM. An empty body is
 * allowed (DELETE and GET may carry a Content-Type without one).
 */
export function registerJsonParser(app: FastifyInstance, bodyLimit: number) {
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser(JSON_TYPES, { parseAs: 'string', bodyLimit }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text, rejectProtoKeys));
    } catch (e) {
      done(e instanceof SyntaxError ? e : new SyntaxError('invalid JSON'), undefined);
    }
  });
}

function rejectProtoKeys(this: unknown, key: string, value: unknown) {
  if (key === '__proto__' || (key === 'prototype' && this && typeof this === 'object')) throw new SyntaxError('forbidden key');
  return value;
}
