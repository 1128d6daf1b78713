/** Builds eval results files for tests. */

/** An eval results file as `posttrain eval` writes it (the fields the comparison reads). */
export function resultsFile(values: Record<string, { metric: string; value: number }>) {
  return {
    schemaVersion: 1,
    model: { kind: "openai", model: "remote" },
    suite: { name: "tulu3_dev", version: "1.0.0" },
    seed: 0,
    tasks: Object.entries(values).map(([task, { metric, value }]) => ({
      task: { name: task, version: "1.0.0", hash: "0".repeat(64), primaryMetric: metric },
      count: 100,
      limit: null,
      metrics: {
        [metric]: {
          value,
          standardError: 0.01,
          confidenceInterval: {
            lower: value - 0.02,
            upper: value + 0.02,
            confidence: 0.95,
            resamples: 1000,
            seed: 0,
          },
          count: 100,
        },
      },
      primaryScore: value,
    })),
  };
}
