import { fileURLToPath } from "node:url";
import { describeKillResume } from "@posttrain/training/test";

// Runs the built child (dist): Node 20 cannot run .ts. turbo builds before testing.
describeKillResume({
  stage: "rlvr",
  child: fileURLToPath(new URL("../dist/test/train-child.js", import.meta.url)),
  steps: 6,
  stepFields: ["loss"],
  timeoutMilliseconds: 120_000,
});
