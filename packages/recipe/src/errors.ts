import { PosttrainError } from "@posttrain/core";

/** Every failure of the recipe package, with a stable snake_case code. */
export type RecipeErrorCode =
  /** The recipe module could not be found or imported, or exports no recipe. */
  | "recipe_not_found"
  /** `recipe.lock.json` is missing where a run needs it (unpinned references, or `--frozen`). */
  | "recipe_lock_missing"
  /** The recipe or its data no longer match `recipe.lock.json` (details list every difference). */
  | "recipe_lock_mismatch"
  /** A Hub reference names a branch or tag and no lock pins it yet. */
  | "recipe_unpinned"
  /** `--variant` names a variant the recipe does not define. */
  | "recipe_variant_unknown"
  /** A stage type whose package does not provide a trainer yet. */
  | "stage_unavailable"
  /** A stage failed while running (the cause says why). */
  | "stage_failed"
  /** A run folder holds state that does not belong to this recipe (resume refused). */
  | "run_state_mismatch"
  /** Rendering the report failed. */
  | "report_failed"
  /** `--seed`/`--seeds` is not a non-negative integer (or list of them). */
  | "recipe_invalid_seed"
  /** recipe.ts's `version` differs from its package.json version. */
  | "recipe_version_mismatch"
  /** A run folder (summary.json, recipe.json, seeds) is missing or unreadable (`report`, `compare`); the message names the file and field. */
  | "run_folder_invalid"
  /** The expected table may not be published (too few seeds, or a claim reversed on a recorded seed). */
  | "recipe_not_publishable";

export class RecipeError extends PosttrainError {
  override readonly code: RecipeErrorCode;
  constructor(params: {
    code: RecipeErrorCode;
    message: string;
    cause?: unknown;
    details?: Record<string, unknown>;
  }) {
    super(params);
    this.code = params.code;
    this.name = "RecipeError";
  }
}
