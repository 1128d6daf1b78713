import { PosttrainError, type PosttrainErrorParams } from "@posttrain/core";

type EngineErrorParams = Omit<PosttrainErrorParams, "code">;

/** Build-time shape inference failed: the message names the op and the offending shapes. */
export class ShapeError extends PosttrainError {
  constructor(params: EngineErrorParams) {
    super({ ...params, code: "shape_mismatch" });
    this.name = "ShapeError";
  }
}

/** The graph is malformed (unknown tensor, wrong dtype, a tensor of another graph, ...). */
export class GraphError extends PosttrainError {
  constructor(params: EngineErrorParams & { code?: "invalid_graph" | "dtype_mismatch" }) {
    super({ ...params, code: params.code ?? "invalid_graph" });
    this.name = "GraphError";
  }
}

/** Autodiff reached an op that has no gradient rule on the path from a parameter to the loss. */
export class GradientError extends PosttrainError {
  constructor(params: EngineErrorParams) {
    super({ ...params, code: "no_gradient_rule" });
    this.name = "GradientError";
  }
}

/** The requested execution provider is not in the installed onnxruntime-node binary. */
export class ExecutionProviderError extends PosttrainError {
  constructor(params: EngineErrorParams) {
    super({ ...params, code: "execution_provider_unavailable" });
    this.name = "ExecutionProviderError";
  }
}

/** A run's feeds or fetches do not match the compiled graph. */
export class RuntimeInputError extends PosttrainError {
  constructor(params: EngineErrorParams) {
    super({ ...params, code: "invalid_run_input" });
    this.name = "RuntimeInputError";
  }
}

/** A checkpoint is missing, corrupt or belongs to another model/optimizer layout. */
export class CheckpointError extends PosttrainError {
  constructor(params: EngineErrorParams & { code?: "checkpoint_missing" | "checkpoint_mismatch" }) {
    super({ ...params, code: params.code ?? "checkpoint_mismatch" });
    this.name = "CheckpointError";
  }
}
