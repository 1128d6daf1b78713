import cliProgress from "cli-progress";

export interface ProgressParams {
  /** Shown before the bar, e.g. `sft`. */
  label: string;
  /** Total units of work (steps, rows, tokens); unknown totals show no ETA. */
  total?: number;
  /**
   * Units already done before this process started (a resumed run's step); rate and ETA count
   * only the work done since, so a resumed run does not report its old steps as instant.
   */
  start?: number;
  /** The unit counted by `completed`, used in the rate: `steps`, `rows`, `tokens`. */
  unit?: string;
  /** Where to draw (default `process.stderr`). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** `bar` on a TTY (the default there); `lines` when piped or in CI (the default there). */
  mode?: "bar" | "lines" | "silent";
  /** Seconds between plain lines in `lines` mode (default 10). */
  intervalSeconds?: number;
  now?: () => number;
}

export interface ProgressUpdate {
  /** Units done so far (absolute, not a delta). */
  completed: number;
  /** Extra figures shown beside the bar: `{ loss: 1.23, "tok/s": 3012 }`. */
  metrics?: Record<string, number | string>;
}

export interface ProgressReporter {
  update(update: ProgressUpdate): void;
  /** Draws the final state and releases the terminal. */
  stop(): void;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = whole % 60;
  if (hours > 0) return `${hours}h${String(minutes).padStart(2, "0")}m`;
  if (minutes > 0) return `${minutes}m${String(rest).padStart(2, "0")}s`;
  return `${rest}s`;
}

function formatMetric(value: number | string): string {
  if (typeof value === "string") return value;
  if (Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  return magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e6)
    ? value.toExponential(3)
    : value.toFixed(4);
}

function formatRate(rate: number): string {
  return rate >= 100 ? rate.toFixed(0) : rate.toFixed(2);
}

function formatMetrics(metrics: Record<string, number | string> | undefined): string {
  if (!metrics) return "";
  return Object.entries(metrics)
    .map(([key, value]) => `${key}=${formatMetric(value)}`)
    .join(" ");
}

/**
 * Progress for long work. On a TTY it draws a bar with rate and ETA (cli-progress);
 * when piped or under CI it prints one plain line every `intervalSeconds`, plus a last line
 * at `stop()`, so logs stay readable.
 */
export function createProgress(params: ProgressParams): ProgressReporter {
  const stream = params.stream ?? process.stderr;
  const now = params.now ?? (() => performance.now() / 1000);
  const unit = params.unit ?? "it";
  const mode =
    params.mode ??
    (stream.isTTY === true && process.env["CI"] !== "true" && process.env["CI"] !== "1" ? "bar" : "lines");
  const started = now();
  const start = params.start ?? 0;
  let last: ProgressUpdate = { completed: start };
  let lastPrinted = Number.NEGATIVE_INFINITY;
  const interval = params.intervalSeconds ?? 10;

  const describe = (update: ProgressUpdate) => {
    const elapsed = now() - started;
    const rate = elapsed > 0 ? Math.max(0, update.completed - start) / elapsed : 0;
    const total = params.total;
    const eta = total !== undefined && rate > 0 ? (total - update.completed) / rate : Number.NaN;
    return { elapsed, rate, eta };
  };

  if (mode === "silent") return { update: () => {}, stop: () => {} };

  if (mode === "lines") {
    const print = (update: ProgressUpdate, final: boolean) => {
      const { elapsed, rate, eta } = describe(update);
      const total = params.total;
      const amount =
        total === undefined
          ? `${update.completed} ${unit}`
          : `${update.completed}/${total} ${unit} (${((100 * update.completed) / Math.max(total, 1)).toFixed(1)}%)`;
      const timing = final
        ? `in ${formatDuration(elapsed)}`
        : `eta ${total === undefined ? "?" : formatDuration(eta)} elapsed ${formatDuration(elapsed)}`;
      const metrics = formatMetrics(update.metrics);
      stream.write(
        `[${params.label}] ${amount} ${formatRate(rate)} ${unit}/s ${timing}${metrics ? ` ${metrics}` : ""}\n`,
      );
    };
    return {
      update(update) {
        last = update;
        const time = now();
        if (time - lastPrinted >= interval) {
          lastPrinted = time;
          print(update, false);
        }
      },
      stop() {
        print(last, true);
      },
    };
  }

  const bar = new cliProgress.SingleBar(
    {
      stream: stream as NodeJS.WritableStream,
      format: `${params.label} |{bar}| {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_text} | {metrics}`,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(params.total ?? 0, start, { rate: "0", eta_text: "?", metrics: "" });
  return {
    update(update) {
      last = update;
      const { rate, eta } = describe(update);
      bar.update(update.completed, {
        rate: formatRate(rate),
        eta_text: params.total === undefined ? "?" : formatDuration(eta),
        metrics: formatMetrics(update.metrics),
      });
    },
    stop() {
      bar.update(last.completed);
      bar.stop();
    },
  };
}
