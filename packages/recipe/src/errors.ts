import { PosttrainError } from "@posttrain/core";

/** Every failure of the recipe package, with a stable snake_case code. */
export type RecipeErrorCode =
  /** No installed recipe package of that name (the message suggests close local recipe folders). */
  | "recipe_not_found"
  /** The reference is a path and nothing is there (the message suggests close names). */
  | "recipe_path_not_found"
  /** The recipe folder exists but holds no built module (`dist/recipe.js`): build it first. */
  | "recipe_not_built"
  /** The recipe module threw or failed to import. */
  | "recipe_import_failed"
  /** The recipe module exports no `recipe` (or default export). */
  | "recipe_no_export"
  /** `recipe.lock.json` is missing where a run needs it (unpinned references, or `--frozen`). */
  | "recipe_lock_missing"
  /** `recipe.lock.json` is not valid JSON (truncated or hand-edited): the message names the file, line and column. */
  | "recipe_lock_invalid"
  /** The recipe's local tokenizer folder is missing or unreadable. */
  | "recipe_tokenizer_missing"
  /** `--resume` names a run that does not exist (the message lists the existing ones). */
  | "run_not_found"
  /** A run id that is not a plain folder name (a path separator or `..`): refused. */
  | "run_id_invalid"
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
