/** The SFT kill/resume child (see @posttrain/training/test's `runTrainChild`): the toy task. */
import { runTrainChild } from "@posttrain/training/test/child";
import { train } from "../train.js";
import { toyExamples, toyModelConfig, toySftConfig } from "./toy.js";

await runTrainChild({
  stage: "sft",
  train: ({ context, steps }) =>
    train({
      config: toySftConfig({ duration: { steps } }),
      model: { kind: "initialize", config: toyModelConfig, seed: 3 },
      data: { train: toyExamples({ count: 8, seed: 2 }).map((example) => example.row) },
      context,
    }),
});
