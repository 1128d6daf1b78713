/** The RLVR kill/resume child (see @posttrain/training/test's `runTrainChild`): the toy digit task. */
import { runTrainChild } from "@posttrain/training/test/child";
import { train } from "../train.js";
import { toyModelConfig, toyRlvrConfig, toyRlvrRows, toyTokenizer } from "./toy.js";

await runTrainChild({
  stage: "rlvr",
  train: ({ context, steps }) =>
    train({
      config: toyRlvrConfig({ steps, monitor: { everySteps: 2, klBound: 1e-6 } }),
      model: { kind: "initialize", config: toyModelConfig, seed: 3 },
      data: { train: toyRlvrRows(), evaluation: toyRlvrRows() },
      context,
      tokenizer: toyTokenizer,
    }),
});
