import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseWithSchema } from "@posttrain/core";
import { createRayJobClient, type RayJobDetails, raySubmitRequestSchema } from "@posttrain/export";
import type { Command } from "commander";
import { output } from "../command.js";
import { UsageError } from "../usage-error.js";

interface AddressOptions {
  address?: string;
  json?: boolean;
}

const client = (options: AddressOptions) =>
  createRayJobClient(options.address === undefined ? {} : { address: options.address });

const describeJob = (job: RayJobDetails) =>
  [
    `${job.submission_id ?? "?"}  ${job.status}${job.message ? `  ${job.message}` : ""}`,
    `  entrypoint: ${job.entrypoint}`,
    ...(job.metadata ? Object.entries(job.metadata).map(([key, value]) => `  ${key}: ${value}`) : []),
  ].join("\n");

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function register(program: Command): void {
  const jobs = program
    .command("jobs")
    .description(
      "submit and watch jobs on a Ray cluster through its Job Submission REST API (address: --address or RAY_ADDRESS; extra headers: RAY_JOB_HEADERS)",
    );
  const address = (command: Command) =>
    command
      .option("--address <url>", "Ray dashboard address (default RAY_ADDRESS), e.g. http://head:8265")
      .option("--json", "print JSON");

  address(
    jobs
      .command("submit")
      .description("submit a stage of an export bundle (its ray/<stage>.json) as a Ray job")
      .argument("<bundle>", "bundle folder written by posttrain export")
      .requiredOption("--stage <name>", "stage to submit")
      .option("--submission-id <id>", "submission id (default: Ray picks one)")
      .option("--working-dir <path>", "where the bundle is on the cluster (the entrypoint runs there)")
      .option("--open-instruct-dir <path>", "the open-instruct checkout on the cluster")
      .option(
        "--env <name>",
        "copy this environment variable into the job's runtime_env (repeatable; e.g. HF_TOKEN)",
        collect,
      ),
  ).action(
    async (
      bundle: string,
      options: AddressOptions & {
        stage: string;
        submissionId?: string;
        workingDir?: string;
        openInstructDir?: string;
        env?: string[];
      },
    ) => {
      let template: unknown;
      try {
        template = JSON.parse(await readFile(join(bundle, "ray", `${options.stage}.json`), "utf8"));
      } catch (error) {
        throw new UsageError(
          `no Ray job for stage ${options.stage} in ${bundle}: ${(error as Error).message}`,
        );
      }
      const request = parseWithSchema({
        schema: raySubmitRequestSchema,
        value: template,
        label: `ray/${options.stage}.json`,
      });
      const envVars: Record<string, string> = {
        ...((request.runtime_env?.["env_vars"] as Record<string, string> | undefined) ?? {}),
      };
      if (options.openInstructDir !== undefined) envVars["OPEN_INSTRUCT_DIR"] = options.openInstructDir;
      for (const name of options.env ?? []) {
        const value = process.env[name];
        if (value === undefined)
          throw new UsageError(`--env ${name}: ${name} is not set in this environment`);
        envVars[name] = value;
      }
      const entrypoint =
        options.workingDir === undefined
          ? request.entrypoint
          : `cd ${JSON.stringify(options.workingDir)} && ${request.entrypoint}`;
      const ray = client(options);
      const { submissionId } = await ray.submit({
        ...request,
        entrypoint,
        runtime_env: { ...request.runtime_env, env_vars: envVars },
        ...(options.submissionId === undefined ? {} : { submission_id: options.submissionId }),
      });
      output({
        json: options.json,
        value: { submissionId, address: ray.address },
        human: () => submissionId,
      });
    },
  );

  address(jobs.command("list").description("list the cluster's jobs")).action(
    async (options: AddressOptions) => {
      const list = await client(options).list();
      output({ json: options.json, value: list, human: () => list.map(describeJob).join("\n") || "no jobs" });
    },
  );

  address(jobs.command("status").description("a job's status").argument("<id>", "submission id")).action(
    async (id: string, options: AddressOptions) => {
      const job = await client(options).status({ submissionId: id });
      output({ json: options.json, value: job, human: () => describeJob(job) });
      if (job.status === "FAILED") process.exitCode = 1;
    },
  );

  address(
    jobs
      .command("logs")
      .description("a job's logs; --follow polls until the job ends")
      .argument("<id>", "submission id")
      .option("--follow", "stream new log lines until the job is terminal")
      .option("--interval <ms>", "polling interval with --follow", "2000"),
  ).action(async (id: string, options: AddressOptions & { follow?: boolean; interval: string }) => {
    const ray = client(options);
    if (options.follow !== true) {
      process.stdout.write(await ray.logs({ submissionId: id }));
      return;
    }
    const interval = Number(options.interval);
    if (!Number.isFinite(interval) || interval < 0)
      throw new UsageError(`--interval must be milliseconds, got ${options.interval}`);
    // Ctrl-C ends the follow only; the job keeps running on the cluster.
    const final = await ray.follow({
      submissionId: id,
      intervalMilliseconds: interval,
      onLogs: (chunk) => process.stdout.write(chunk),
    });
    process.stderr.write(`job ${id}: ${final.status}\n`);
    if (final.status === "FAILED") process.exitCode = 1;
  });

  address(jobs.command("stop").description("stop a running job").argument("<id>", "submission id")).action(
    async (id: string, options: AddressOptions) => {
      const stopped = await client(options).stop({ submissionId: id });
      output({
        json: options.json,
        value: { submissionId: id, stopped },
        human: () => (stopped ? `stopped ${id}` : `${id} was not running`),
      });
    },
  );
}
