import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, cpus, homedir, totalmem } from "node:os";
import { dirname, join } from "node:path";
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
    executionProviders: string[];
    error: string | null;
  };
  caches: { huggingFaceHome: string; huggingFaceHubCache: string; posttrainCache: string };
  hub: { endpoint: string; offline: boolean; tokenSet: boolean };
}

function pnpmVersion(): string | null {
  const result = spawnSync("pnpm", ["--version"], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : null;
}

async function probeOnnxRuntime(): Promise<DoctorReport["onnxruntime"]> {
  try {
    const ort = (await import("onnxruntime-node")) as unknown as {
      env: { versions?: { common?: string } };
      listSupportedBackends?: () => Array<{ name: string }>;
    };
    const listed = ort.listSupportedBackends?.().map((backend) => backend.name) ?? ["cpu"];
    // The npm package lists CUDA/TensorRT as compiled in, but their provider libraries are
    // only present when its (denied) install script downloaded them: check for the files.
    const binaryDirectory = dirname(createRequire(import.meta.url).resolve("onnxruntime-node"));
    const providerFiles = readdirSync(join(binaryDirectory, "..", "bin"), { recursive: true }).map(String);
    const usable = listed.filter(
      (name) =>
        !["cuda", "tensorrt"].includes(name) ||
        providerFiles.some((file) => file.endsWith(`libonnxruntime_providers_${name}.so`)),
    );
    return {
      loaded: true,
      version: ort.env.versions?.common ?? null,
      executionProviders: usable,
      error: null,
    };
  } catch (error) {
    return { loaded: false, version: null, executionProviders: [], error: (error as Error).message };
  }
}

const truthy = (value: string | undefined) => value !== undefined && /^(1|true|yes|on)$/i.test(value);

export async function doctor(): Promise<DoctorReport> {
  const environment = process.env;
  const huggingFaceHome = environment["HF_HOME"] ?? join(homedir(), ".cache", "huggingface");
  const threads = Number(environment["POSTTRAIN_THREADS"] ?? availableParallelism());
  return {
    node: process.versions.node,
    pnpm: pnpmVersion(),
    platform: `${process.platform}-${process.arch}`,
    cpu: { model: cpus()[0]?.model ?? "unknown", cores: availableParallelism(), threadsUsed: threads },
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    onnxruntime: await probeOnnxRuntime(),
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
    .description("check this machine: Node, pnpm, cores, onnxruntime-node, caches and Hub settings")
    .option("--json", "print the report as JSON")
    .action(async (options: { json?: boolean }) => {
      const report = await doctor();
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
                ? `${report.onnxruntime.version} loaded; providers: ${report.onnxruntime.executionProviders.join(", ")}`
                : `NOT LOADED: ${report.onnxruntime.error}`
            }`,
            `HF home           ${report.caches.huggingFaceHome}`,
            `HF hub cache      ${report.caches.huggingFaceHubCache}`,
            `posttrain cache   ${report.caches.posttrainCache}`,
            `Hub endpoint      ${report.hub.endpoint}${report.hub.offline ? " (offline: HF_HUB_OFFLINE=1)" : ""}`,
            `HF token          ${report.hub.tokenSet ? "set" : "not set"}`,
          ].join("\n"),
      });
    });
}
