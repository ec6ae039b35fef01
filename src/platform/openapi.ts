/**
 * OpenAPI 3.1 from the routes' zod schemas (@fastify/swagger), served per tenant at /openapi.json with that tenant's
 * token URL, and Scalar at /scalar with the oauth2 clientCredentials flow and scope `iam/` preselected.
 * Scalar's script is served from this service: the page loads nothing from the internet.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import scalar from '@scalar/fastify-api-reference';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';

export const OPENAPI_PATH = '/openapi.json';
export const SCALAR_PATH = '/scalar';
export const SECURITY_SCHEME = 'oauth2';

export const swaggerPlugin = fp(
  async (app: FastifyInstance, opts: { scopes: Record<string, string>; tokenPath: string; webhooks?: () => Record<string, unknown> }) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'IAM',
          version: '0.1.0',
          description:
            'Identity and access management: OAuth 2.0 / OpenID Connect authorization server, management API and SCIM 2.0.\n\n' +
            'Authorize with the bootstrap machine client: in the Authentication panel keep **oauth2** (flow **clientCredentials**), enter its Client ID and Client Secret, keep scope `iam/` selected and click **Authorize**.',
        },
        components: {
          securitySchemes: {
            [SECURITY_SCHEME]: {
              type: 'oauth2',
              description: 'OAuth 2.0 client credentials (RFC 6749 §4.4) at this tenant\'s token endpoint.',
              flows: { clientCredentials: { tokenUrl: opts.tokenPath, scopes: opts.scopes } },
            },
          },
        },
      },
      hideUntagged: true,
      transform: jsonSchemaTransform,
      // OpenAPI 3.1 §4.8.1 `webhooks`: what this service sends and what its event feed carries (src/events/catalog.ts),
      // read when the document is first built, after every capability has defined its events.
      ...(opts.webhooks ? { transformObject: (doc) => ('openapiObject' in doc ? ({ ...doc.openapiObject, webhooks: opts.webhooks!() }) as typeof doc.openapiObject : doc.swaggerObject) } : {}),
    });
  },
  { name: 'swagger' },
);

/** Registered inside the tenant-scoped context: the document names the tenant's own URLs. */
export async function apiReferenceRoutes(app: FastifyInstance, opts: { tokenPath: string }) {
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async (request) => {
    const doc = structuredClone(app.swagger()) as { servers?: unknown[]; components: any };
    doc.servers = [{ url: request.tenant.issuer, description: request.tenant.displayName }];
    doc.components.securitySchemes[SECURITY_SCHEME].flows.clientCredentials.tokenUrl = request.tenant.issuer + opts.tokenPath;
    return doc;
  });
  await app.register(scalar, {
    routePrefix: SCALAR_PATH,
    configuration: {
      url: OPENAPI_PATH,
      pageTitle: 'IAM API reference',
      withDefaultFonts: false,
      hideClientButton: true,
      telemetry: false,
      // Nothing on the page may reach beyond this service: no developer toolbar, AI agent or MCP generator.
      showDeveloperTools: 'never',
      agent: { disabled: true },
      mcp: { disabled: true },
      authentication: {
        preferredSecurityScheme: SECURITY_SCHEME,
        securitySchemes: { [SECURITY_SCHEME]: { flows: { clientCredentials: { selectedScopes: ['iam/'] } } } },
      },
    } as Record<string, unknown>,
  });
}
