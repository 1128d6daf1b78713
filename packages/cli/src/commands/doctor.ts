import { spawnSync } from "node:child_process";
import { availableParallelism, cpus, homedir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { availableExecutionProviders } from "@posttrain/engine";
import type { Command } from "commander";
import { output } from "../command.js";

export interface DoctorReport {
  node: string;
  pnpm: string | null;
  platform: string;
  cpu: { model: string; cores: number; threadsUsed: number };
  memoryGiB: number;
  onnxruntime: {
    loaded: boolean;
    version: string | null;
    /** Providers `engine check` really ran on (each was tried: a three-step training self-test). */
    executionProviders: string[];
    /** Providers this onnxruntime-node build lists but that failed the trial, with the reason. */
    unavailableExecutionProviders: Array<{ name: string; reason: string }>;
    error: string | null;
  };
  caches: { huggingFaceHome: string; huggingFaceHubCache: string; posttrainCache: string };
  hub: { endpoint: string; offline: boolean; tokenSet: boolean };
}

function pnpmVersion(): string | null {
  const result = spawnSync("pnpm", ["--version"], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : null;
}

/**
 * Tries one execution provider the way `engine check` uses it: a three-step training self-test
 * in a child process (a provider's native library may print to stderr or abort the process),
 * bounded to 120 s. Returns null when it ran, else the reason it did not.
 */
function tryExecutionProvider(name: string): string | null {
  const bin = fileURLToPath(new URL("../bin.js", import.meta.url));
  const result = spawnSync(
    process.execPath,
    [bin, "engine", "check", "--steps", "3", "--threads", "1", "--execution-provider", name, "--json"],
    { encoding: "utf8", timeout: 120_000, env: { ...process.env, CI: "true" } },
  );
  if (result.status === 0) return null;
  if (result.error !== undefined) return result.error.message;
  const lines = `${result.stderr ?? ""}`
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("at "));
  const posttrainLine = lines.find((line) => line.startsWith("posttrain:"));
  const reason = (posttrainLine ?? lines.at(-1) ?? `exit ${result.status ?? result.signal}`).replace(
    /^posttrain: /,
    "",
  );
  const native = lines.find(
    (line) => /cannot open shared object|not found|unavailable/i.test(line) && line !== posttrainLine,
  );
  return native === undefined ? reason : `${reason} (${native})`;
}

async function probeOnnxRuntime(params: { tryProviders: boolean }): Promise<DoctorReport["onnxruntime"]> {
  try {
    const ort = (await import("onnxruntime-node")) as unknown as {
      env: { versions?: { common?: string } };
    };
    const listed = availableExecutionProviders();
    const usable: string[] = [];
    const unavailable: Array<{ name: string; reason: string }> = [];
    for (const name of listed) {
      // engine check takes cpu, cuda and webgpu; other names the build lists are not usable here.
      if (!["cpu", "cuda", "webgpu"].includes(name)) {
        unavailable.push({
          name,
          reason: "not an execution provider posttrain's engine uses (cpu, cuda, webgpu)",
        });
        continue;
      }
      const reason = params.tryProviders ? tryExecutionProvider(name) : null;
      if (reason === null) usable.push(name);
      else unavailable.push({ name, reason });
    }
    return {
      loaded: true,
      version: ort.env.versions?.common ?? null,
      executionProviders: usable,
      unavailableExecutionProviders: unavailable,
      error: null,
    };
  } catch (error) {
    return {
      loaded: false,
      version: null,
      executionProviders: [],
      unavailableExecutionProviders: [],
      error: (error as Error).message,
    };
  }
}

const truthy = (value: string | undefined) => value !== undefined && /^(1|true|yes|on)$/i.test(value);

/** The report; `tryProviders` (default true) runs `engine check` on each listed execution provider. */
export async function doctor(params: { tryProviders?: boolean } = {}): Promise<DoctorReport> {
  const environment = process.env;
  const huggingFaceHome = environment["HF_HOME"] ?? join(homedir(), ".cache", "huggingface");
  const threads = Number(environment["POSTTRAIN_THREADS"] ?? availableParallelism());
  return {
    node: process.versions.node,
    pnpm: pnpmVersion(),
    platform: `${process.platform}-${process.arch}`,
    cpu: { model: cpus()[0]?.model ?? "unknown", cores: availableParallelism(), threadsUsed: threads },
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    onnxruntime: await probeOnnxRuntime({ tryProviders: params.tryProviders ?? true }),
    caches: {
      huggingFaceHome,
      huggingFaceHubCache: environment["HF_HUB_CACHE"] ?? join(huggingFaceHome, "hub"),
      posttrainCache: environment["POSTTRAIN_CACHE"] ?? join(homedir(), ".cache", "posttrain"),
    },
    hub: {
      endpoint: environment["HF_ENDPOINT"] ?? "https://huggingface.co",
      offline: truthy(environment["HF_HUB_OFFLINE"]),
      tokenSet: Boolean(environment["HF_TOKEN"]),
    },
  };
}

export function register(program: Command): void {
  program
    .command("doctor")
    .description(
      "check this machine: Node, pnpm, cores, onnxruntime-node (each execution provider tried with engine check), caches and Hub settings",
    )
    .option("--no-try-providers", "list the build's execution providers without trying them")
    .option("--json", "print the report as JSON")
    .action(async (options: { json?: boolean; tryProviders: boolean }) => {
      const report = await doctor({ tryProviders: options.tryProviders });
      output({
        json: options.json,
        value: report,
        human: () =>
          [
            `node              ${report.node}`,
            `pnpm              ${report.pnpm ?? "not on PATH"}`,
            `platform          ${report.platform}`,
            `cpu               ${report.cpu.model} (${report.cpu.cores} cores, ${report.cpu.threadsUsed} threads used)`,
            `memory            ${report.memoryGiB} GiB`,
            `onnxruntime-node  ${
              report.onnxruntime.loaded
                ? `${report.onnxruntime.version} loaded; usable providers: ${report.onnxruntime.executionProviders.join(", ") || "none"}`
                : `NOT LOADED: ${report.onnxruntime.error}`
            }`,
            ...report.onnxruntime.unavailableExecutionProviders.map(
              (provider) => `  unavailable       ${provider.name}: ${provider.reason}`,
            ),
            `HF home           ${report.caches.huggingFaceHome}`,
            `HF hub cache      ${report.caches.huggingFaceHubCache}`,
            `posttrain cache   ${report.caches.posttrainCache}`,
            `Hub endpoint      ${report.hub.endpoint}${report.hub.offline ? " (offline: HF_HUB_OFFLINE=1)" : ""}`,
            `HF token          ${report.hub.tokenSet ? "set" : "not set"}`,
          ].join("\n"),
      });
    });
}
