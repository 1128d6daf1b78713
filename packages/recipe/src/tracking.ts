/**
 * Live run tracking in MLflow's file-store layout (`mlruns/`, which `mlflow ui
 * --backend-store-uri <run>/mlruns` opens, and `mlflow.search_runs` reads):
 *
 *     mlruns/<experiment id>/meta.yaml              the experiment (one per recipe)
 *     mlruns/<experiment id>/<run id>/meta.yaml     one MLflow run per stage, plus one for the whole run
 *     …/<run id>/metrics/<key>                      one line per point: "<timestamp ms> <value> <step>"
 *     …/<run id>/params/<key>, tags/<key>           one value per file
 *
 * Metric lines are appended as the trainers write their `step-end` / `evaluation` events, so a
 * `mlflow ui` open during the run shows the curves growing. Why MLflow's layout and not
 * TensorBoard or W&B offline: see the package README ("Live tracking").
 */
import { createHash, randomUUID } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { EventLog } from "@posttrain/core";

/** MLflow's RunStatus numbers (mlflow/protos/service.proto). */
const runStatus = { RUNNING: 1, FINISHED: 3, FAILED: 4, KILLED: 5 } as const;

/** MLflow metric and param keys: alphanumerics, `_ - . / space`; anything else becomes `_`. */
export function trackingKey(name: string): string {
  return name
    .replace(/[^A-Za-z0-9_\-./ ]/g, "_")
    .replace(/\.\.+/g, "_")
    .replace(/^\/+/, "");
}

function yamlScalar(value: string | number | null): string {
  if (value === null) return "null";
  if (typeof value === "number") return String(value);
  return `'${value.replace(/'/g, "''")}'`;
}

function yaml(entries: Record<string, string | number | null>): string {
  return Object.entries(entries)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}: ${yamlScalar(value)}\n`)
    .join("");
}

/** One MLflow run (a stage, or the whole recipe run). */
export interface TrackedRun {
  readonly id: string;
  readonly directory: string;
  logMetric(params: { key: string; value: number; step: number; timestamp?: number }): void;
  logParam(params: { key: string; value: string }): void;
  setTag(params: { key: string; value: string }): void;
  /** Marks the run finished (or failed / killed) in its meta.yaml. */
  end(params: { status: "completed" | "failed" | "interrupted" }): void;
}

export interface Tracker {
  readonly directory: string;
  readonly experimentId: string;
  /**
   * Starts the MLflow run `name`. With `continueExisting`, a run of that name already in the
   * store (a resumed stage, or the resumed recipe run) is continued instead: same id, its
   * metrics appended to, its start time kept, its status back to running.
   */
  startRun(params: { name: string; parentRunId?: string; continueExisting?: boolean }): TrackedRun;
}

/** The id and start time of the run named `name` in an experiment folder (null: none). */
function findRun(experimentDirectory: string, name: string): { id: string; started: number } | null {
  if (!existsSync(experimentDirectory)) return null;
  const quoted = `run_name: '${name.replace(/'/g, "''")}'`;
  for (const entry of readdirSync(experimentDirectory, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const metaPath = join(experimentDirectory, entry.name, "meta.yaml");
    if (!existsSync(metaPath)) continue;
    const meta = readFileSync(metaPath, "utf8");
    if (!meta.split("\n").includes(quoted)) continue;
    const started = Number(/^start_time: (\d+)$/m.exec(meta)?.[1]);
    return { id: entry.name, started: Number.isFinite(started) ? started : Date.now() };
  }
  return null;
}

/**
 * An MLflow file store at `directory` (created), with one experiment named `experimentName`.
 * The experiment id is a decimal hash of the name, so every run of a recipe lands in the same
 * experiment when several run folders share one store.
 */
export function createTracker(params: { directory: string; experimentName: string }): Tracker {
  const experimentId = String(
    Number.parseInt(createHash("sha256").update(params.experimentName).digest("hex").slice(0, 12), 16),
  );
  const experimentDirectory = join(params.directory, experimentId);
  const now = Date.now();
  // MLflow's file store expects its "Default" experiment 0 beside the others.
  for (const [id, name] of [
    ["0", "Default"],
    [experimentId, params.experimentName],
  ] as const) {
    const directory = join(params.directory, id);
    mkdirSync(directory, { recursive: true });
    if (id === "0" && existsSync(join(directory, "meta.yaml"))) continue;
    writeFileSync(
      join(directory, "meta.yaml"),
      yaml({
        artifact_location: pathToFileURL(directory).href,
        creation_time: now,
        experiment_id: id,
        last_update_time: now,
        lifecycle_stage: "active",
        name,
      }),
    );
  }
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry
  }
  return {
    directory: params.directory,
    experimentId,
    startRun(runParams) {
      const existing =
        runParams.continueExisting === true ? findRun(experimentDirectory, runParams.name) : null;
      const id = existing?.id ?? randomUUID().replace(/-/g, "");
      const directory = join(experimentDirectory, id);
      for (const folder of ["metrics", "params", "tags", "artifacts"])
        mkdirSync(join(directory, folder), { recursive: true });
      const started = existing?.started ?? Date.now();
      const meta = (status: number, endTime: number | null) =>
        yaml({
          artifact_uri: pathToFileURL(join(directory, "artifacts")).href,
          end_time: endTime,
          entry_point_name: "",
          experiment_id: experimentId,
          lifecycle_stage: "active",
          run_id: id,
          run_name: runParams.name,
          run_uuid: id,
          source_name: "",
          source_type: 4,
          source_version: "",
          start_time: started,
          status,
          user_id: user,
        }).concat("tags: []\n");
      writeFileSync(join(directory, "meta.yaml"), meta(runStatus.RUNNING, null));
      const run: TrackedRun = {
        id,
        directory,
        logMetric({ key, value, step, timestamp }) {
          if (!Number.isFinite(value)) return;
          const path = join(directory, "metrics", trackingKey(key));
          mkdirSync(join(path, ".."), { recursive: true });
          appendFileSync(path, `${timestamp ?? Date.now()} ${value} ${Math.round(step)}\n`);
        },
        logParam({ key, value }) {
          const path = join(directory, "params", trackingKey(key));
          mkdirSync(join(path, ".."), { recursive: true });
          writeFileSync(path, value.slice(0, 6000));
        },
        setTag({ key, value }) {
          const path = join(directory, "tags", trackingKey(key));
          mkdirSync(join(path, ".."), { recursive: true });
          writeFileSync(path, value.slice(0, 8000));
        },
        end({ status }) {
          writeFileSync(
            join(directory, "meta.yaml"),
            meta(
              status === "completed"
                ? runStatus.FINISHED
                : status === "failed"
                  ? runStatus.FAILED
                  : runStatus.KILLED,
              Date.now(),
            ),
          );
        },
      };
      run.setTag({ key: "mlflow.runName", value: runParams.name });
      run.setTag({ key: "mlflow.user", value: user });
      if (runParams.parentRunId !== undefined)
        run.setTag({ key: "mlflow.parentRunId", value: runParams.parentRunId });
      return run;
    },
  };
}

/** Event fields that are bookkeeping, not metrics. */
const skippedFields = new Set(["type", "time", "elapsed", "step", "epoch", "stage", "message"]);

/**
 * The numeric fields of an event as metric keys, nested objects flattened with dots
 * (`perVerifier.gsm8k.rewardMean`), up to three levels; `seconds` (timings) is skipped.
 */
export function eventMetrics(event: Record<string, unknown>): Array<[string, number]> {
  const metrics: Array<[string, number]> = [];
  const visit = (prefix: string, value: Record<string, unknown>, depth: number) => {
    for (const [key, entry] of Object.entries(value)) {
      if (prefix === "" && skippedFields.has(key)) continue;
      const name = prefix === "" ? key : `${prefix}.${key}`;
      if (typeof entry === "number" && Number.isFinite(entry)) metrics.push([name, entry]);
      else if (
        typeof entry === "object" &&
        entry !== null &&
        !Array.isArray(entry) &&
        key !== "seconds" &&
        depth < 3
      )
        visit(name, entry as Record<string, unknown>, depth + 1);
    }
  };
  visit("", event, 1);
  return metrics;
}

/**
 * An event log that also streams the stage's metrics to `run` as they are written:
 * `step-end` events as training metrics, `evaluation` / `over-optimization-check` events
 * (held-out checks) as `heldout.<field>`. The wrapped log is unchanged.
 */
export function trackedEventLog(params: { events: EventLog; run: TrackedRun }): EventLog {
  const { events, run } = params;
  return {
    path: events.path,
    write(event) {
      const line = events.write(event);
      try {
        const step = line["step"];
        if (typeof step === "number") {
          const prefix =
            line.type === "step-end"
              ? ""
              : line.type === "evaluation" || line.type === "over-optimization-check"
                ? "heldout."
                : null;
          if (prefix !== null) {
            const timestamp = Date.parse(line.time);
            for (const [key, value] of eventMetrics(line))
              run.logMetric({ key: `${prefix}${key}`, value, step, timestamp });
          }
        }
      } catch {
        // tracking never stops training
      }
      return line;
    },
  };
}
