import { execFile } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startTestRayServer, type TestRayServer } from "@posttrain/export/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Runs the built bin asynchronously: the Ray test server lives in this process.
const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const run = promisify(execFile);

describe("posttrain jobs (Ray Job Submission API)", () => {
  let server: TestRayServer;
  let bundle: string;
  const posttrain = (...args: string[]) =>
    run(process.execPath, [bin, ...args], {
      encoding: "utf8",
      env: { ...process.env, CI: "true", RAY_ADDRESS: server.url, HF_TOKEN: "hf_from_environment" },
    }).then(
      (result) => ({ status: 0, ...result }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        status: error.code,
        stdout: error.stdout,
        stderr: error.stderr,
      }),
    );
  beforeAll(async () => {
    server = await startTestRayServer();
    bundle = await mkdtemp(join(tmpdir(), "posttrain-jobs-"));
    await mkdir(join(bundle, "ray"));
    await writeFile(
      join(bundle, "ray", "rlvr.json"),
      JSON.stringify({
        entrypoint: "bash stages/03-rlvr.sh",
        runtime_env: { env_vars: { OPEN_INSTRUCT_DIR: "open-instruct" } },
        metadata: { recipe: "tulu3-8b", stage: "rlvr" },
        entrypoint_num_gpus: 0,
      }),
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  it("submits a bundle stage, reads its status, follows its logs and stops another job", async () => {
    const submitted = await posttrain(
      "jobs",
      "submit",
      bundle,
      "--stage",
      "rlvr",
      "--submission-id",
      "tulu3-rlvr",
      "--working-dir",
      "/shared/bundle",
      "--env",
      "HF_TOKEN",
      "--json",
    );
    expect(submitted.status, submitted.stderr).toBe(0);
    expect(JSON.parse(submitted.stdout)).toMatchObject({ submissionId: "tulu3-rlvr" });
    const job = server.job("tulu3-rlvr")!;
    expect(job.entrypoint).toBe('cd "/shared/bundle" && bash stages/03-rlvr.sh');
    // The token comes from the submitting environment, not from the bundle or the recipe.
    expect(job.runtime_env).toEqual({
      env_vars: { OPEN_INSTRUCT_DIR: "open-instruct", HF_TOKEN: "hf_from_environment" },
    });
    server.advance({ submissionId: "tulu3-rlvr", status: "RUNNING", logs: "step 1 reward 0.4\n" });
    const status = await posttrain("jobs", "status", "tulu3-rlvr", "--json");
    expect(JSON.parse(status.stdout)).toMatchObject({ status: "RUNNING", metadata: { stage: "rlvr" } });
    server.advance({ submissionId: "tulu3-rlvr", status: "SUCCEEDED", logs: "done\n" });
    const logs = await posttrain("jobs", "logs", "tulu3-rlvr", "--follow", "--interval", "10");
    expect(logs.status).toBe(0);
    expect(logs.stdout).toBe("step 1 reward 0.4\ndone\n");
    expect(logs.stderr).toContain("SUCCEEDED");
    const missing = await posttrain("jobs", "stop", "no-such-job");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("no-such-job");
  });
});
