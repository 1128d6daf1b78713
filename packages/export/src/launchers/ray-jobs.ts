/**
 * A client of Ray's Job Submission REST API (the dashboard, port 8265): submit, status,
 * list, logs, stop, delete, and `follow` (status polling with incremental logs). Addresses
 * and credentials come from parameters or the environment (`RAY_ADDRESS`, and
 * `RAY_JOB_HEADERS` — a JSON object of extra headers, e.g. an Authorization token, as the
 * `ray job` CLI reads it), never from a recipe. Every response is validated; a non-2xx
 * answer becomes a `JobError` carrying the status and the server's body.
 */
import { parseWithSchema, safeParseWithSchema } from "@posttrain/core";
import { z } from "zod";
import { JobError } from "../errors.js";

/** Job states as Ray reports them. */
export const rayJobStatuses = ["PENDING", "RUNNING", "STOPPED", "SUCCEEDED", "FAILED"] as const;
export type RayJobStatus = (typeof rayJobStatuses)[number];
/** States a job never leaves. */
export const terminalRayJobStatuses: readonly RayJobStatus[] = ["STOPPED", "SUCCEEDED", "FAILED"];

/** Ray's JobDetails (the fields this client relies on; others are kept). */
export const rayJobDetailsSchema = z.looseObject({
  type: z.string().optional(),
  entrypoint: z.string(),
  submission_id: z.string().nullable(),
  job_id: z.string().nullable().optional(),
  status: z.enum(rayJobStatuses),
  message: z.string().nullable().optional(),
  error_type: z.string().nullable().optional(),
  /** Milliseconds since the epoch. */
  start_time: z.number().nullable().optional(),
  end_time: z.number().nullable().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  runtime_env: z.record(z.string(), z.unknown()).nullable().optional(),
});
export type RayJobDetails = z.infer<typeof rayJobDetailsSchema>;

/** The body of `POST /api/jobs/` (Ray's names). */
export const raySubmitRequestSchema = z.strictObject({
  entrypoint: z.string().min(1),
  submission_id: z.string().min(1).optional(),
  runtime_env: z.record(z.string(), z.unknown()).optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  entrypoint_num_cpus: z.number().nonnegative().optional(),
  entrypoint_num_gpus: z.number().nonnegative().optional(),
  entrypoint_memory: z.number().int().nonnegative().optional(),
  entrypoint_resources: z.record(z.string(), z.number()).optional(),
});
export type RaySubmitRequest = z.infer<typeof raySubmitRequestSchema>;

export interface RayJobClientParams {
  /** Dashboard address (`http://head:8265`, or `head:8265`); default `RAY_ADDRESS`. */
  address?: string;
  /** Extra headers (e.g. `Authorization`); default the JSON in `RAY_JOB_HEADERS`. */
  headers?: Record<string, string>;
  environment?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
}

export interface RayJobClient {
  /** The dashboard base URL in use. */
  readonly address: string;
  version(): Promise<{ version: string; ray_version: string } & Record<string, unknown>>;
  submit(request: RaySubmitRequest): Promise<{ submissionId: string }>;
  status(params: { submissionId: string }): Promise<RayJobDetails>;
  list(): Promise<RayJobDetails[]>;
  logs(params: { submissionId: string }): Promise<string>;
  stop(params: { submissionId: string }): Promise<boolean>;
  delete(params: { submissionId: string }): Promise<boolean>;
  /**
   * Polls status and logs until the job is terminal; `onLogs` receives each new log chunk
   * (the suffix since the last poll). Returns the final details.
   */
  follow(params: {
    submissionId: string;
    onLogs?: (chunk: string) => void;
    onStatus?: (details: RayJobDetails) => void;
    intervalMilliseconds?: number;
    signal?: AbortSignal;
  }): Promise<RayJobDetails>;
}

/** `host:port` or a URL → `http(s)://host:port` without a trailing slash (`ray://` → http on the dashboard port). */
export function normalizeRayAddress(address: string): string {
  let value = address.trim().replace(/\/+$/, "");
  if (value.startsWith("ray://")) value = `http://${value.slice("ray://".length).replace(/:\d+$/, "")}:8265`;
  if (!/^https?:\/\//.test(value)) value = `http://${value}`;
  return value;
}

const headersSchema = z.record(z.string(), z.string());

async function readText(response: Response): Promise<string> {
  try {
    return await response.text();
  } catch {
    return "";
  }
}

/** Creates a client; throws `job_address_missing` when no address is given or set. */
export function createRayJobClient(params: RayJobClientParams = {}): RayJobClient {
  const environment = params.environment ?? process.env;
  const rawAddress = params.address ?? environment["RAY_ADDRESS"];
  if (rawAddress === undefined || rawAddress.trim() === "")
    throw new JobError({
      code: "job_address_missing",
      message: "no Ray dashboard address: pass --address or set RAY_ADDRESS (e.g. http://head:8265)",
    });
  const address = normalizeRayAddress(rawAddress);
  const environmentHeaders = environment["RAY_JOB_HEADERS"];
  const headers =
    params.headers ??
    (environmentHeaders === undefined
      ? {}
      : parseWithSchema({
          schema: headersSchema,
          value: JSON.parse(environmentHeaders),
          label: "RAY_JOB_HEADERS",
        }));
  const fetchImplementation = params.fetch ?? fetch;

  async function request<T>(call: {
    method: "GET" | "POST" | "DELETE";
    path: string;
    body?: unknown;
    schema: z.ZodType<T>;
    submissionId?: string;
  }): Promise<T> {
    const url = `${address}${call.path}`;
    let response: Response;
    try {
      response = await fetchImplementation(url, {
        method: call.method,
        headers: { ...headers, ...(call.body === undefined ? {} : { "content-type": "application/json" }) },
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
      });
    } catch (error) {
      throw new JobError({
        code: "job_request_failed",
        message: `${call.method} ${url} failed: ${(error as Error).message}`,
        cause: error,
        details: { url },
      });
    }
    const text = await readText(response);
    if (!response.ok) {
      const notFound = response.status === 404 && call.submissionId !== undefined;
      throw new JobError({
        code: notFound ? "job_not_found" : "job_request_failed",
        message: notFound
          ? `Ray has no job ${call.submissionId} at ${address}: ${text.trim()}`
          : `${call.method} ${url} answered ${response.status}: ${text.trim() || response.statusText}`,
        details: { url, status: response.status, body: text },
      });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new JobError({
        code: "job_invalid_response",
        message: `${call.method} ${url} did not answer JSON: ${text.slice(0, 200)}`,
        cause: error,
        details: { url, body: text },
      });
    }
    const parsed = safeParseWithSchema({
      schema: call.schema,
      value: json,
      label: `${call.method} ${call.path}`,
    });
    if (!parsed.success)
      throw new JobError({
        code: "job_invalid_response",
        message: parsed.error.message,
        cause: parsed.error,
        details: { url, body: text },
      });
    return parsed.value;
  }

  const jobPath = (submissionId: string) => `/api/jobs/${encodeURIComponent(submissionId)}`;

  const client: RayJobClient = {
    address,
    version: () =>
      request({
        method: "GET",
        path: "/api/version",
        schema: z.looseObject({ version: z.string(), ray_version: z.string() }),
      }),
    async submit(body) {
      const validated = parseWithSchema({
        schema: raySubmitRequestSchema,
        value: body,
        label: "Ray job submission",
      });
      const answer = await request({
        method: "POST",
        path: "/api/jobs/",
        body: validated,
        schema: z.looseObject({ submission_id: z.string().min(1) }),
      });
      return { submissionId: answer.submission_id };
    },
    status: ({ submissionId }) =>
      request({ method: "GET", path: jobPath(submissionId), schema: rayJobDetailsSchema, submissionId }),
    list: () => request({ method: "GET", path: "/api/jobs/", schema: z.array(rayJobDetailsSchema) }),
    async logs({ submissionId }) {
      const answer = await request({
        method: "GET",
        path: `${jobPath(submissionId)}/logs`,
        schema: z.looseObject({ logs: z.string() }),
        submissionId,
      });
      return answer.logs;
    },
    async stop({ submissionId }) {
      const answer = await request({
        method: "POST",
        path: `${jobPath(submissionId)}/stop`,
        schema: z.looseObject({ stopped: z.boolean() }),
        submissionId,
      });
      return answer.stopped;
    },
    async delete({ submissionId }) {
      const answer = await request({
        method: "DELETE",
        path: jobPath(submissionId),
        schema: z.looseObject({ deleted: z.boolean() }),
        submissionId,
      });
      return answer.deleted;
    },
    async follow({ submissionId, onLogs, onStatus, intervalMilliseconds = 2000, signal }) {
      let printed = 0;
      for (;;) {
        const details = await client.status({ submissionId });
        onStatus?.(details);
        const logs = await client.logs({ submissionId });
        // Logs only grow; if they were truncated (rotation), start over.
        if (logs.length < printed) printed = 0;
        if (logs.length > printed) onLogs?.(logs.slice(printed));
        printed = logs.length;
        if (terminalRayJobStatuses.includes(details.status)) return details;
        if (signal?.aborted)
          throw new JobError({
            code: "job_timeout",
            message: `stopped following ${submissionId} (still ${details.status})`,
            details: { submissionId, status: details.status },
          });
        await new Promise((resolve) => setTimeout(resolve, intervalMilliseconds));
      }
    },
  };
  return client;
}
