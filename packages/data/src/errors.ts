import { PosttrainError } from "@posttrain/core";

/**
 * Stable codes of {@link DataError}:
 * - `data_spec_unpinned`: a spec names a branch or tag where a commit SHA is required
 * - `data_no_files`: no data file matches the spec's config/split/globs, or a local folder is missing
 * - `data_unsupported_format`: a file extension no reader handles
 * - `data_read_failed`: a data file could not be parsed (bad JSON line, corrupt Parquet)
 * - `data_expect_mismatch`: the files or row count differ from the spec's `expect`
 * - `data_malformed_rows`: more malformed rows than the allowed threshold
 * - `data_template_failed`: a chat template could not be parsed or rendered
 * - `data_tokenizer_invalid`: tokenizer assets are missing or inconsistent
 * - `data_cache_corrupt`: a tokenized-cache file failed verification (it is rebuilt)
 * - `data_worker_failed`: a tokenization worker thread failed
 * - `data_packing_invalid`: a document is longer than the packed row length
 */
export type DataErrorCode =
  | "data_spec_unpinned"
  | "data_no_files"
  | "data_unsupported_format"
  | "data_read_failed"
  | "data_expect_mismatch"
  | "data_malformed_rows"
  | "data_template_failed"
  | "data_tokenizer_invalid"
  | "data_cache_corrupt"
  | "data_worker_failed"
  | "data_packing_invalid";

/** Every failure raised by @posttrain/data. */
export class DataError extends PosttrainError {
  declare readonly code: DataErrorCode;

  constructor(params: {
    code: DataErrorCode;
    message: string;
    cause?: unknown;
    details?: Record<string, unknown>;
  }) {
    super(params);
    this.name = "DataError";
  }
}
