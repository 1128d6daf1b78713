/**
 * @posttrain/recipe — versioned recipes: schema (`defineRecipe`), loader, lockfile, plan,
 * runner and run report. See README.md and docs/recipe-format.md.
 */
export { type Difference, diffValues, formatDifferences } from "./diff.js";
export { describeEnvironment, instructionSetsOf, type RunEnvironment } from "./environment.js";
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
  alignColumns,
  calibrateFromRuns,
  type ExpectedCompletion,
  formatPlan,
  formatSeconds,
  parameterCount,
  planRecipe,
  probeEstimateSeconds,
  type RecipePlan,
  type RecipeProbe,
  type RecordedRun,
  type RolloutProbe,
  type RunCalibration,
  readRecordedRuns,
  rolloutScale,
  type StageCompletion,
  type StagePlan,
  type StageProbe,
  steadyStepSeconds,
} from "./plan.js";
export {
  expectedCompletionOf,
  type ProbeEvent,
  probeBlocker,
  probeParameterLimit,
  probeRecipe,
  promptTokensOf,
  summarizeProbeEvents,
} from "./plan-probe.js";
export {
  describeProvenance,
  differencesFromRecipe,
  formatProvenanceDifferences,
  gitState,
  type Provenance,
  type ProvenanceDifference,
  provenanceDifferences,
  provenanceSchema,
} from "./provenance.js";
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
  type CurveSummary,
  collectWarnings,
  describeExpectedRow,
  describeStatus,
  exponentialMovingAverage,
  formatBand,
  formatInterval,
  renderHtml,
  renderMarkdown,
  type StageCurves,
  smoothingWeight,
  stageCurves,
  summarizeCurve,
  writeReports,
} from "./report.js";
export { resumeCommand, resumeCommandOf, shellQuote } from "./resume-command.js";
export {
  type ComparedCell,
  type ComparedRun,
  compareRuns,
  formatRunComparison,
  type RunComparison,
  type RunFolder,
  readRunFolder,
  regenerateReports,
} from "./run-folder.js";
export {
  assertRunId,
  embeddedEvaluator,
  evalBootstrapSeed,
  listRunIds,
  modelHash,
  observedMetric,
  type RunRecipeParams,
  runRecipe,
  type StageEvaluator,
} from "./runner.js";
export {
  applyVariant,
  type BaseModel,
  baseModelSchema,
  type Claim,
  claimSchema,
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
  type RecordingMachine,
  recipeSchema,
  recordingMachineSchema,
  reportedTasks,
  type Stage,
  type StageData,
  stageDataSchema,
  stageSchema,
  type TokenizerSettings,
  tokenizerSchema,
  withRootSeed,
} from "./schema.js";
export {
  aggregateSeeds,
  parseSeedList,
  type RunSeedsParams,
  renderSeedsHtml,
  renderSeedsMarkdown,
  runSeeds,
  type SeedRow,
  type SeedRun,
  type SeedsSummary,
} from "./seeds.js";
export {
  generationConfigOf,
  renderStageCard,
  type StageCardParams,
  writeStageModelFiles,
} from "./stage-card.js";
export {
  type DpoHyperparameters,
  type PpoHyperparameters,
  ppoConfigSchema,
  type RlvrHyperparameters,
  type SftHyperparameters,
  type StageType,
  stageConfigSchemas,
} from "./stage-configs.js";
export { getStage, type StageRegistry, stageRegistry } from "./stage-registry.js";
export {
  defaultStageRunners,
  registeredStageRunner,
  type StageModelSource,
  type StageRunner,
  type StageRunParams,
  type StageRunResult,
  stageRunnersOf,
} from "./stage-runners.js";
export {
  confidenceLevel,
  describeSample,
  flooredPredictionInterval,
  type Interval,
  meanInterval,
  type PairedTest,
  pairedTest,
  predictionInterval,
  proportionStandardDeviation,
  studentTQuantile,
} from "./statistics.js";
export type { EvalMetricSummary, RunSummary, StageSummary } from "./summary.js";
export { measureMatmulGflops } from "./throughput.js";
export {
  createTracker,
  eventMetrics,
  type TrackedRun,
  type Tracker,
  trackedEventLog,
  trackingKey,
} from "./tracking.js";
export {
  type ClaimVerdict,
  claimsInForce,
  type ExpectedVerdict,
  judgeClaim,
  judgeExpected,
  judgeRow,
  minimumPublishedSeeds,
  type PublishProblem,
  publishProblems,
  type RowBand,
  type RowVerdict,
  recordedSeeds,
  recordedValues,
  rowBand,
} from "./verdict.js";
export { packageVersionOf } from "./version.js";
