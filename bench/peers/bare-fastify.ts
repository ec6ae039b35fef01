/**
 * Peer (c): the ceiling. A bare Fastify 5 app (no plugins, no hooks, no logging, no schema) whose one route,
 * POST /oauth2/token, reads the same form request the token endpoints get and answers a constant JSON body the
 * size of a real token response. What it measures: Node's HTTP stack, Fastify's routing and reply path, and the
 * load generator, on this machine. Nothing is authenticated, signed or looked up.
 *
 * Env: PORT. Binds 127.0.0.1.
 */
import Fastify from 'fastify';
import { HOST, announceReady, required } from './shared.ts';

const port = Number(required('PORT'));
// ~ the size of an ES256 at+jwt response from either token endpoint.
const BODY = JSON.stringify({ access_token: 'x'.repeat(460), token_type: 'Bearer', expires_in: 3600, scope: 'iam/' });

const app = Fastify({ logger: false });
// The form body is read (as the token endpoints must) but not interpreted.
app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));
app.post('/oauth2/token', (_request, reply) => {
  reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-store').send(BODY);
});
await app.listen({ port, host: HOST });
announceReady(port);
const stop = () => void app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
