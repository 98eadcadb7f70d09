/** The parts of the OpenAPI document the tests read. */
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: {
    securitySchemes: Record<string, { type: string; scheme?: string; in?: string; name?: string }>;
  };
}

export interface MediaType {
  schema?: Record<string, unknown>;
}

export interface Operation {
  operationId?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string; required?: boolean; schema: Record<string, unknown> }[];
  requestBody?: { content?: Record<string, MediaType> };
  responses: Record<string, { description: string; content?: Record<string, MediaType> }>;
}

export interface DocumentedOperation {
  method: string;
  /** `/api/v1/org/members/{user_id}` */
  path: string;
  /** Fastify's pattern: `/api/v1/org/members/:user_id` */
  pattern: string;
  op: Operation;
}

export function operations(doc: OpenApiDocument): DocumentedOperation[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({
      method,
      path,
      pattern: path.replace(/\{(\w+)\}/g, ':$1'),
      op,
    })),
  );
}

/** The documented response for a status: its exact code, else its class (`4XX`), else `default`. */
export function documentedResponse(op: Operation, status: number) {
  return op.responses[String(status)] ?? op.responses[`${String(status)[0]}XX`] ?? op.responses.default;
}
