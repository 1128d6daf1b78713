// Shared by the SFT, DPO and RLVR stages (moved here from their identical copies).
import { PosttrainError, type PosttrainErrorParams } from "@posttrain/core";

/**
 * Stable codes of the training stages (SFT, DPO and RLVR share this class and its codes):
 * - `train_effective_batch_mismatch`: devices × per-device batch × accumulation ≠ `effectiveBatchSize`
 * - `train_unsupported_devices`: more than one device (the embedded engine runs on one)
 * - `train_config_changed`: resuming a run directory whose resolved config differs
 * - `train_model_invalid`: the model source does not match the model config
 * - `train_data_invalid`: rows that cannot be trained on (empty set, wrong lengths, ids out of the vocabulary)
 * - `train_config_invalid`: a config that validates but cannot run (e.g. an RLVR tool that is not registered)
 */
export type TrainErrorCode =
  | "train_effective_batch_mismatch"
  | "train_unsupported_devices"
  | "train_config_changed"
  | "train_model_invalid"
  | "train_data_invalid"
  | "train_config_invalid";

export class TrainError extends PosttrainError {
  constructor(params: Omit<PosttrainErrorParams, "code"> & { code: TrainErrorCode }) {
    super(params);
    this.name = "TrainError";
  }
}
