import { PosttrainError } from "@posttrain/core";

/**
 * An IFEval label or instruction list that cannot be checked: an unknown instruction id,
 * kwargs that do not fit the instruction, mismatched list lengths, or an empty constraint
 * list. Codes: `ifeval_unknown_instruction`, `ifeval_invalid_kwargs`, `ifeval_empty_instructions`,
 * `ifeval_kwargs_length_mismatch`, `ifeval_unknown_function`.
 */
export class IfevalLabelError extends PosttrainError {
  constructor(params: {
    code:
      | "ifeval_unknown_instruction"
      | "ifeval_invalid_kwargs"
      | "ifeval_empty_instructions"
      | "ifeval_kwargs_length_mismatch"
      | "ifeval_unknown_function";
    message: string;
    details?: Record<string, unknown>;
    cause?: unknown;
  }) {
    super(params);
    this.name = "IfevalLabelError";
  }
}
