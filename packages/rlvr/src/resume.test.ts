import { fileURLToPath } from "node:url";
import { describeKillResume } from "@posttrain/engine/test";

// Runs the built child (dist): Node 20 cannot run .ts. turbo builds before testing.
describeKillResume({
  stage: "rlvr",
  child: fileURLToPath(new URL("../dist/testing/train-child.js", import.meta.url)),
  steps: 4,
  stepFields: ["loss", "rewardMean", "kl"],
  timeoutMilliseconds: 180_000,
});
