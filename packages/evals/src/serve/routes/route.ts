/**
 * What a route module exports: a table of paths, each with its one method and handler.
 * server.ts merges the modules' tables and dispatches (404 for an unknown path, 405 with
 * `Allow` for a wrong method). A generating route wraps its handler in {@link generatingRoute}
 * so that it reads and admits its body the same way as every other.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { measureRequest, type RequestMeasure } from "../admission.js";
import type { ServeContext } from "../context.js";
import { parseJson, readBody } from "../http-io.js";

export type RouteHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  signal: AbortSignal,
) => Promise<void>;

export interface Route {
  method: "GET" | "POST";
  handle: RouteHandler;
}

/** Path → route. */
export type RouteTable = Record<string, Route>;

/** A JSON body read within the byte limits and parsed within the nesting and container limits. */
export async function readJsonBody(context: ServeContext, request: IncomingMessage): Promise<unknown> {
  return parseJson(await readBody(request, context.admission), request, context.maxJsonContainers);
}

/**
 * A generating route: the body is read within the byte limits, measured and checked against
 * the admission limits before any per-prompt work, and its rows are reserved until the
 * answer is sent (admission.ts).
 */
export function generatingRoute(params: {
  context: ServeContext;
  route: Parameters<typeof measureRequest>[0]["route"];
  /** The body field a too-long prompt is reported against. */
  promptParam: string | ((body: unknown) => string);
  handle: (body: unknown, response: ServerResponse, signal: AbortSignal) => Promise<void>;
}): Route {
  const { context, route, promptParam } = params;
  return {
    method: "POST",
    handle: async (request, response, signal) => {
      const body = await readJsonBody(context, request);
      const measure: RequestMeasure = measureRequest({ route, body });
      context.admission.check({
        measure,
        contextLength: context.contextLength,
        promptParam: typeof promptParam === "string" ? promptParam : promptParam(body),
      });
      const release = context.admission.reserveRows(Math.max(1, measure.rows));
      try {
        await params.handle(body, response, signal);
      } finally {
        release();
      }
    },
  };
}
