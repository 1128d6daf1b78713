/** The DPO kill/resume child (see @posttrain/training/test's `runTrainChild`): the toy preference task. */
import { join } from "node:path";
import { runTrainChild } from "@posttrain/training/test/child";
import { train } from "../train.js";
import { toyDpoConfig, toyModelConfig, toyPreferenceRows } from "./toy.js";

await runTrainChild({
  stage: "dpo",
  train: ({ context, steps, directory }) =>
    train({
      config: toyDpoConfig({
        duration: { steps },
        loss: { type: "dpo", beta: 0.1, labelSmoothing: 0.1, gammaBetaRatio: 0.3 },
        referenceCacheDirectory: join(directory, "reference-cache"),
      }),
      model: { kind: "initialize", config: toyModelConfig, seed: 3 },
      data: { train: toyPreferenceRows({ count: 12, seed: 2, stream: "train" }) },
      context,
    }),
});
