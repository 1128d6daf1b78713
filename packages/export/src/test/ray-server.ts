/**
 * A local server implementing the Ray Job Submission REST API endpoints the client uses
 * (`GET /api/version`, `POST /api/jobs/`, `GET /api/jobs/`, `GET /api/jobs/{id}`,
 * `GET /api/jobs/{id}/logs`, `POST /api/jobs/{id}/stop`, `DELETE /api/jobs/{id}`), with Ray's
 * error behaviour: 400 with a text body for a bad submission or a duplicate submission id,
 * 404 for an unknown job, 400 when deleting a job that is not terminal. Jobs do not run: the
 * test drives them with `advance` (status, appended logs). An optional token is checked
 * against the `Authorization` header (401 otherwise).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

type Status = "PENDING" | "RUNNING" | "STOPPED" | "SUCCEEDED" | "FAILED";

interface StoredJob {
  type: "SUBMISSION";
  entrypoint: string;
  submission_id: string;
  job_id: string | null;
  status: Status;
  message: string;
  error_type: string | null;
  start_time: number;
  end_time: number | null;
  metadata: Record<string, string>;
  runtime_env: Record<string, unknown>;
  driver_info: null;
  logs: string;
}

export interface TestRayServer {
  /** `http://127.0.0.1:<port>` (the dashboard address). */
  url: string;
  /** Every request, in order. */
  requests: Array<{ method: string; path: string; body: unknown; authorization: string | null }>;
  /** Moves a job to `status` and appends `logs`. */
  advance(params: { submissionId: string; status?: Status; logs?: string; message?: string }): void;
  /** Submitted jobs by submission id (as stored). */
  job(submissionId: string): Omit<StoredJob, "logs"> | undefined;
  close(): Promise<void>;
}

const terminal = new Set<Status>(["STOPPED", "SUCCEEDED", "FAILED"]);

export async function startTestRayServer(
  params: { token?: string; rayVersion?: string } = {},
): Promise<TestRayServer> {
  const jobs = new Map<string, StoredJob>();
  const requests: TestRayServer["requests"] = [];
  let counter = 0;
  const clock = () => 1_700_000_000_000 + counter * 1000;

  const json = (response: ServerResponse, status: number, value: unknown) => {
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify(value));
  };
  const text = (response: ServerResponse, status: number, body: string) => {
    response.writeHead(status, { "content-type": "text/plain" });
    response.end(body);
  };
  const publicJob = ({ logs: _logs, ...job }: StoredJob) => job;

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const method = request.method ?? "GET";
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    let body: unknown = null;
    if (raw !== "") {
      try {
        body = JSON.parse(raw);
      } catch {
        return text(response, 400, "Bad Request: the body is not JSON");
      }
    }
    const authorization = request.headers.authorization ?? null;
    requests.push({ method, path, body, authorization });
    if (params.token !== undefined && authorization !== `Bearer ${params.token}`)
      return text(response, 401, "Unauthorized");
    if (method === "GET" && path === "/api/version")
      return json(response, 200, {
        version: "4",
        ray_version: params.rayVersion ?? "2.40.0",
        ray_commit: "test",
      });
    if (path === "/api/jobs/" || path === "/api/jobs") {
      if (method === "GET") return json(response, 200, [...jobs.values()].map(publicJob));
      if (method === "POST") {
        const submission = (body ?? {}) as Record<string, unknown>;
        if (typeof submission["entrypoint"] !== "string" || submission["entrypoint"] === "")
          return text(response, 400, "Bad Request: 'entrypoint' is required");
        const metadata = submission["metadata"] ?? {};
        if (
          typeof metadata !== "object" ||
          metadata === null ||
          Object.values(metadata).some((value) => typeof value !== "string")
        )
          return text(response, 400, "Bad Request: metadata must be a dict of str to str");
        counter += 1;
        const id =
          typeof submission["submission_id"] === "string"
            ? submission["submission_id"]
            : `raysubmit_${counter}`;
        if (jobs.has(id))
          return text(
            response,
            400,
            `Job with submission_id ${id} already exists. Please use a different submission_id.`,
          );
        jobs.set(id, {
          type: "SUBMISSION",
          entrypoint: submission["entrypoint"],
          submission_id: id,
          job_id: null,
          status: "PENDING",
          message: "Job has not started yet.",
          error_type: null,
          start_time: clock(),
          end_time: null,
          metadata: metadata as Record<string, string>,
          runtime_env: (submission["runtime_env"] ?? {}) as Record<string, unknown>,
          driver_info: null,
          logs: "",
        });
        return json(response, 200, { submission_id: id });
      }
    }
    const match = /^\/api\/jobs\/([^/]+)(\/logs|\/stop)?$/.exec(path);
    if (match !== null) {
      const id = decodeURIComponent(match[1]!);
      const job = jobs.get(id);
      if (job === undefined) return text(response, 404, `Job ${id} does not exist`);
      const action = match[2];
      if (method === "GET" && action === undefined) return json(response, 200, publicJob(job));
      if (method === "GET" && action === "/logs") return json(response, 200, { logs: job.logs });
      if (method === "POST" && action === "/stop") {
        if (terminal.has(job.status)) return json(response, 200, { stopped: false });
        counter += 1;
        Object.assign(job, {
          status: "STOPPED",
          message: "Job was intentionally stopped.",
          end_time: clock(),
        });
        return json(response, 200, { stopped: true });
      }
      if (method === "DELETE" && action === undefined) {
        if (!terminal.has(job.status))
          return text(
            response,
            400,
            `Attempted to delete job '${id}', but it is in a non-terminal state ${job.status}.`,
          );
        jobs.delete(id);
        return json(response, 200, { deleted: true });
      }
    }
    return text(response, 404, `Not Found: ${method} ${path}`);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => text(response, 500, String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    advance({ submissionId, status, logs, message }) {
      const job = jobs.get(submissionId);
      if (job === undefined) throw new Error(`no job ${submissionId}`);
      if (status !== undefined) {
        counter += 1;
        job.status = status;
        if (terminal.has(status)) job.end_time = clock();
      }
      if (logs !== undefined) job.logs += logs;
      if (message !== undefined) job.message = message;
    },
    job(submissionId) {
      const job = jobs.get(submissionId);
      return job === undefined ? undefined : publicJob(job);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
