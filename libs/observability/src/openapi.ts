import { applyDecorators, INestApplication } from '@nestjs/common';
import { ApiResponse, DocumentBuilder, OpenAPIObject, SchemaObject, SwaggerModule } from '@nestjs/swagger';
import { z } from 'zod';

/**
 * The OpenAPI 3.0 schema of a zod request schema, as the service validates it (input side:
 * defaults optional). Refinements that JSON Schema cannot express are described in prose.
 */
export function openApiSchemaOf(schema: z.ZodType, description?: string): SchemaObject {
  const { $schema: _drop, ...json } = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...(json as SchemaObject), ...(description ? { description } : {}) };
}

/** Every HTTP error body: `{"error": {code, message, field?, rule?, reason?, peer?, correlationId}}`. */
export const ERROR_BODY_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'correlationId'],
      properties: {
        code: { type: 'string', description: 'Machine-readable error code', example: 'VALIDATION_FAILED' },
        message: { type: 'string', description: 'Safe to show; never holds personal data' },
        field: { type: 'string', description: 'The input field at fault (VALIDATION_FAILED)', example: 'licenceId' },
        rule: { type: 'string', description: 'The rule the field broke', example: 'GBT36904_CHECK_CHARACTER' },
        reason: { type: 'string', description: 'Refusal or rejection reason given by a peer', example: 'PEER_SUSPENDED' },
        peer: { type: 'string', description: 'Participant code of the peer concerned', example: '110000' },
        correlationId: { type: 'string', description: 'Quote it to the operator; also in the x-correlation-id response header' },
      },
    },
  },
};

const WHEN: Record<number, string> = {
  400: 'VALIDATION_FAILED: `field` and `rule` name the problem',
  401: 'UNAUTHENTICATED: missing or wrong bearer token',
  403: 'FORBIDDEN, or ISSUER_REFUSED with the issuer’s `reason`; CSRF_TOKEN_INVALID: a state change with a console session cookie lacks its X-CSRF-Token',
  404: 'NOT_FOUND',
  409: 'CONFLICT: the resource is not in a state that allows this',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED: too many attempts; try again after the `Retry-After` header’s seconds',
  502: 'ISSUER_UNKNOWN, ISSUER_REJECTED or ISSUER_RESPONSE_INVALID (the peer’s answer did not check)',
  503: 'UNAVAILABLE: the gateway cannot serve the request now (its database is unreachable); try again after the `Retry-After` header’s seconds. The reason says what was stored: DATABASE_UNAVAILABLE nothing, DATABASE_COMMIT_UNKNOWN perhaps (read before retrying), DATABASE_READ_AFTER_COMMIT the change was stored (read `location`, do not repeat). On routes that ask a peer also ISSUER_UNREACHABLE: the peer did not answer within the peer deadline; ISSUER_SOURCE_UNAVAILABLE: the issuer is up but its licence library cannot answer now',
};

/** The `Retry-After` header of a 503 UNAVAILABLE answer. */
const RETRY_AFTER_HEADER = { 'Retry-After': { description: 'Seconds to wait before trying again (UNAVAILABLE)', schema: { type: 'integer', example: 2 } } };

/** The 503 response every API route can give: a lost database connection is UNAVAILABLE, never 500. */
export const UNAVAILABLE_RESPONSE = { description: WHEN[503], headers: RETRY_AFTER_HEADER, content: { 'application/json': { schema: ERROR_BODY_SCHEMA } } };

/** Documents the error responses a route can give, all with the common error body. */
export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) => ApiResponse({ status, description: WHEN[status] ?? 'Error', schema: ERROR_BODY_SCHEMA, ...(status === 503 ? { headers: RETRY_AFTER_HEADER } : {}) })),
  );
}

/**
 * Every route of the local and admin APIs can answer 503 UNAVAILABLE (a database fault is not a 500):
 * the document says so on each of them, so a client generated from it expects the status and its
 * Retry-After header, even on routes that declare no other error.
 */
export function documentUnavailable(document: OpenAPIObject): void {
  for (const [path, item] of Object.entries(document.paths)) {
    if (!/^\/(v1|admin|console\/api)\//.test(path)) continue;
    for (const op of Object.values(item as Record<string, { responses?: Record<string, unknown> }>)) {
      if (op && typeof op === 'object' && op.responses) op.responses['503'] = UNAVAILABLE_RESPONSE;
    }
  }
}

/** Serves the OpenAPI document generated from the controllers at /docs (UI), /docs/openapi.json and /docs/openapi.yaml. */
export function setupOpenApi(app: INestApplication, info: { title: string; description: string; version: string }): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle(info.title)
    .setDescription(info.description)
    .setVersion(info.version)
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'opaque', description: "A provincial system's token (TONGBAN_API_TOKENS or a SYSTEM client): /v1/…, within its scopes" }, 'api')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'opaque', description: "An administrator's token (TONGBAN_ADMIN_TOKEN or an ADMIN client): /admin/…, within its role" }, 'admin')
    .addCookieAuth(
      'tongban_console',
      { type: 'apiKey', in: 'cookie', description: 'An admin console session (POST /console/api/session): /admin/… within the role of its client; state changes need X-CSRF-Token' },
      'console',
    )
    .build();
  const document = SwaggerModule.createDocument(app, config);
  documentUnavailable(document);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json', yamlDocumentUrl: 'docs/openapi.yaml', customSiteTitle: info.title });
  return document;
}
