/**
 * @posttrain/sft — supervised fine-tuning on the embedded engine (see README.md). The shared
 * run machinery (model sources, run folders, `TrainError`) is @posttrain/training's.
 */
export {
  ignoredLabel,
  readSftRows,
  type SftData,
  type SftRow,
  tokenBatchOf,
  validateSftRows,
} from "./batches.js";
export { Config, type ConfigInput } from "./config.js";
export { TokenScorer } from "./forward.js";
export { sftRowSchema, sftStage } from "./stage.js";
export {
  evaluationLoss,
  type StepMetrics,
  sftOptimizerStep,
  type TrainParams,
  type TrainResult,
  train,
} from "./train.js";
