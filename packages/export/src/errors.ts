import { PosttrainError } from "@posttrain/core";

/** Stable codes of @posttrain/export errors. */
export type ExportErrorCode =
  /** The recipe uses something the target engine cannot express; `details.fields` names each field. */
  | "export_unsupported"
  /** The batch arithmetic (GPUs × per-device batch × accumulation) disagrees with the recipe. */
  | "export_batch_mismatch"
  /** The recipe has no lock (or a source is unpinned): datasets cannot be materialised at a SHA. */
  | "export_unpinned"
  /** An open-instruct commit this package has no flag table for. */
  | "export_unknown_commit"
  /** A stage named on the command line is not in the recipe. */
  | "export_unknown_stage"
  /** A materialised data file did not hash to its pinned sha256 after copying. */
  | "export_data_mismatch";

/** An export to an external engine failed; `code` says why. */
export class ExportError extends PosttrainError {
  constructor(params: {
    code: ExportErrorCode;
    message: string;
    cause?: unknown;
    details?: Record<string, unknown>;
  }) {
    super(params);
    this.name = "ExportError";
  }
}

/** Stable codes of job-scheduler errors (Ray Job Submission API, Slurm). */
export type JobErrorCode =
  | "job_not_found"
  | "job_request_failed"
  | "job_invalid_response"
  | "job_address_missing"
  | "job_timeout";

/** A request to a job scheduler failed; `details.status` / `details.body` carry the server's answer. */
export class JobError extends PosttrainError {
  constructor(params: {
    code: JobErrorCode;
    message: string;
    cause?: unknown;
    details?: Record<string, unknown>;
  }) {
    super(params);
    this.name = "JobError";
  }
}

/** Stable codes of remote-generation weight-sync errors. */
export type WeightSyncErrorCode =
  | "weight_sync_failed"
  | "weight_sync_invalid_response"
  | "weight_sync_unauthorized";

/** Pushing new weights to an inference server failed. */
export class WeightSyncError extends PosttrainError {
  constructor(params: {
    code: WeightSyncErrorCode;
    message: string;
    cause?: unknown;
    details?: Record<string, unknown>;
  }) {
    super(params);
    this.name = "WeightSyncError";
  }
}
