/**
 * @posttrain/recipe — versioned recipes: schema (`defineRecipe`), loader, lockfile, plan,
 * runner and run report. See README.md and docs/recipe-format.md.
 */
export { type Difference, diffValues, formatDifferences } from "./diff.js";
export { describeEnvironment, type RunEnvironment } from "./environment.js";
export { RecipeError, type RecipeErrorCode } from "./errors.js";
export { type LoadedRecipe, loadRecipe, lockPathOf } from "./load.js";
export {
  blockingLockSections,
  compareLocks,
  computeLock,
  datasetPlaces,
  type LockComparison,
  lockVersion,
  type RecipeLock,
  readLock,
  recipeLockSchema,
  recordedPackages,
  unpinnedReferences,
  verifyLock,
  writeLock,
} from "./lock.js";
export {
  formatPlan,
  formatSeconds,
  parameterCount,
  planRecipe,
  type RecipePlan,
  type StagePlan,
} from "./plan.js";
export {
  publishedCommandSourceSchema,
  type ReferenceImplementation,
  type ReferenceImplementationInput,
  type ReferenceStage,
  referenceDifferenceSchema,
  referenceImplementationSchema,
  referenceStageSchema,
} from "./reference-implementation.js";
export {
  collectWarnings,
  renderHtml,
  renderMarkdown,
  type StageCurves,
  stageCurves,
  writeReports,
} from "./report.js";
export { embeddedEvaluator, type RunRecipeParams, runRecipe, type StageEvaluator } from "./runner.js";
export {
  applyVariant,
  type BaseModel,
  baseModelSchema,
  defineRecipe,
  type ExpectedRow,
  evalSuiteSchema,
  expectedRowSchema,
  type HubModelReference,
  hubModelReferenceSchema,
  mergeVariant,
  parseRecipe,
  type Recipe,
  type RecipeInput,
  recipeSchema,
  type Stage,
  type StageData,
  stageDataSchema,
  stageSchema,
  type TokenizerSettings,
  tokenizerSchema,
} from "./schema.js";
export {
  type DpoHyperparameters,
  type PpoHyperparameters,
  ppoConfigSchema,
  type RlvrHyperparameters,
  type SftHyperparameters,
  type StageType,
  stageConfigSchemas,
} from "./stage-configs.js";
export {
  defaultStageRunners,
  type StageModelSource,
  type StageRunner,
  type StageRunParams,
  type StageRunResult,
} from "./stage-runners.js";
export type { EvalMetricSummary, RunSummary, StageSummary } from "./summary.js";
export { measureMatmulGflops } from "./throughput.js";
