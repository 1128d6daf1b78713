import { PosttrainError } from "@posttrain/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRayServer, type TestRayServer } from "../test/ray-server.js";
import { createRayJobClient, normalizeRayAddress } from "./ray-jobs.js";

describe("Ray Job Submission client against a local API server", () => {
  let server: TestRayServer;
  beforeAll(async () => {
    server = await startTestRayServer({ token: "secret-token" });
  });
  afterAll(async () => {
    await server?.close();
  });
  const client = () =>
    createRayJobClient({ address: server.url, headers: { Authorization: "Bearer secret-token" } });

  it("submits with entrypoint, runtime_env and metadata, then reads status, logs and stops", async () => {
    const ray = client();
    expect((await ray.version()).ray_version).toBe("2.40.0");
    const { submissionId } = await ray.submit({
      entrypoint: "bash stages/03-rlvr.sh",
      submission_id: "tulu3-rlvr-1",
      runtime_env: { env_vars: { OPEN_INSTRUCT_DIR: "/opt/open-instruct" } },
      metadata: { recipe: "tulu3-8b", stage: "rlvr" },
      entrypoint_num_gpus: 0,
    });
    expect(submissionId).toBe("tulu3-rlvr-1");
    expect(server.requests.at(-1)).toMatchObject({ method: "POST", path: "/api/jobs/" });
    const stored = server.job("tulu3-rlvr-1")!;
    expect(stored.runtime_env).toEqual({ env_vars: { OPEN_INSTRUCT_DIR: "/opt/open-instruct" } });
    expect(stored.metadata).toEqual({ recipe: "tulu3-8b", stage: "rlvr" });
    expect((await ray.status({ submissionId })).status).toBe("PENDING");
    server.advance({ submissionId, status: "RUNNING", logs: "step 1\n" });
    expect(await ray.logs({ submissionId })).toBe("step 1\n");
    expect((await ray.list()).map((job) => job.submission_id)).toContain(submissionId);
    expect(await ray.stop({ submissionId })).toBe(true);
    const stopped = await ray.status({ submissionId });
    expect(stopped.status).toBe("STOPPED");
    expect(stopped.end_time).toBeGreaterThan(stopped.start_time!);
    expect(await ray.stop({ submissionId })).toBe(false);
    expect(await ray.delete({ submissionId })).toBe(true);
  });

  it("follows a job: streams only new log text and returns the terminal status", async () => {
    const ray = client();
    const { submissionId } = await ray.submit({ entrypoint: "python train.py" });
    const chunks: string[] = [];
    let polls = 0;
    const final = await ray.follow({
      submissionId,
      intervalMilliseconds: 1,
      onLogs: (chunk) => chunks.push(chunk),
      onStatus: () => {
        polls += 1;
        if (polls === 1) server.advance({ submissionId, status: "RUNNING", logs: "a\n" });
        if (polls === 2) server.advance({ submissionId, logs: "b\n" });
        if (polls === 3) server.advance({ submissionId, status: "FAILED", logs: "c\n", message: "exit 1" });
      },
    });
    expect(final.status).toBe("FAILED");
    expect(final.message).toBe("exit 1");
    expect(chunks.join("")).toBe("a\nb\nc\n");
    expect(new Set(chunks).size).toBe(chunks.length);
  });

  it("turns Ray's error bodies into typed errors", async () => {
    const ray = client();
    const missing = await ray.status({ submissionId: "nope" }).catch((error: unknown) => error);
    expect(PosttrainError.hasCode(missing, "job_not_found")).toBe(true);
    expect((missing as Error).message).toContain("Job nope does not exist");
    await ray.submit({ entrypoint: "true", submission_id: "twice" });
    const duplicate = await ray
      .submit({ entrypoint: "true", submission_id: "twice" })
      .catch((error: unknown) => error);
    expect(PosttrainError.hasCode(duplicate, "job_request_failed")).toBe(true);
    expect((duplicate as PosttrainError).details).toMatchObject({ status: 400 });
    expect((duplicate as Error).message).toContain("already exists");
    const running = await ray.delete({ submissionId: "twice" }).catch((error: unknown) => error);
    expect((running as Error).message).toContain("non-terminal");
    const unauthorized = await createRayJobClient({ address: server.url, headers: {} })
      .list()
      .catch((error: unknown) => error);
    expect((unauthorized as PosttrainError).details).toMatchObject({ status: 401 });
    await expect(ray.submit({ entrypoint: "" })).rejects.toThrow(/entrypoint/);
  });

  it("reads the address and headers from the environment, never needing a recipe", async () => {
    const ray = createRayJobClient({
      environment: {
        RAY_ADDRESS: server.url.replace("http://", ""),
        RAY_JOB_HEADERS: JSON.stringify({ Authorization: "Bearer secret-token" }),
      },
    });
    expect(ray.address).toBe(server.url);
    await expect(ray.list()).resolves.toBeInstanceOf(Array);
    expect(() => createRayJobClient({ environment: {} })).toThrow(/RAY_ADDRESS/);
    expect(normalizeRayAddress("ray://head:10001")).toBe("http://head:8265");
  });
});
