/**
 * @posttrain/evals — pinned, versioned eval tasks and suites (OLMES settings), metrics with
 * uncertainty, an OpenAI-compatible HTTP backend with a response cache, results files.
 * See README.md.
 */
export type { Comparison, ComparisonRow, ExpectedResult } from "./compare.js";
export { compareWithExpected, expectedResultSchema, expectedResultsSchema } from "./compare.js";
export type { DatasetFileRecord, DatasetSource } from "./dataset.js";
export { loadTaskItems, readRows } from "./dataset.js";
export { createEmbeddedBackend, createEmbeddedToolBackend } from "./embedded-backend.js";
export { EvaluationError, HttpBackendError } from "./errors.js";
export type { Exemplar } from "./exemplars.js";
export { exemplarSets, gsm8kChainOfThoughtExemplars, minervaMathExemplars } from "./exemplars.js";
export type { EvalItem } from "./items.js";
export { gsm8kGoldAnswer, itemFromRow } from "./items.js";
export type { MetricEstimate } from "./metrics.js";
export {
  bootstrapConfidenceInterval,
  estimateMacroMetric,
  estimateMetric,
  macroAverage,
  meanWithStandardError,
  passAtK,
} from "./metrics.js";
export { olmesGsm8kAnswer, olmesGsm8kExactMatch } from "./olmes-gsm8k.js";
export type { OpenAiBackendParams } from "./openai-backend.js";
export { apiBaseUrl, createOpenAiBackend, listServedModels } from "./openai-backend.js";
export { describePrompt, fillTemplate, renderPrompt, selectExemplars } from "./prompt.js";
export { getSuite, getTask, registerSuite, registerTask, suiteRegistry, taskRegistry } from "./registry.js";
export type { CacheKeyParts, ResponseCache } from "./response-cache.js";
export { openResponseCache, responseCacheKey } from "./response-cache.js";
export type { EvalResults, PredictionRow, ResponseRecord, RunEvalParams, TaskResult } from "./run-eval.js";
export {
  buildRequests,
  readResponseRecords,
  resolveTasks,
  runEval,
  scoreResponses,
  scoreTask,
  writeResults,
} from "./run-eval.js";
export type { ItemScore, SampleVerdict } from "./scoring.js";
export { cutAtStop, scoreItem } from "./scoring.js";
export type { AdmissionLimits } from "./serve/admission.js";
export { defaultAdmissionLimits } from "./serve/admission.js";
export type { OpenAiErrorType } from "./serve/errors.js";
export { ServeError, ServeRequestError } from "./serve/errors.js";
export type { SchedulerStatistics, SequenceRequest, SequenceResult } from "./serve/scheduler.js";
export type { ServeOptions, ServeServer } from "./serve/server.js";
export {
  defaultServedModelName,
  startServeServer,
  startServeServerFromFolder,
} from "./serve/start.js";
export type { WeightUpdateAccessOptions } from "./serve/weight-access.js";
export { minimumWeightUpdateTokenLength, weightUpdateTokenVariable } from "./serve/weight-access.js";
export type {
  GenerationSpec,
  PromptSpec,
  RowFormat,
  ScoringSpec,
  SuiteSpec,
  TaskSpec,
  TaskSpecInput,
  ToolUseSpec,
} from "./task-spec.js";
export { defineTask, suiteSpecSchema, taskHash, taskSpecSchema, toolUseSpecSchema } from "./task-spec.js";
export { builtinTasks, defineHeldOutTask } from "./tasks/builtin.js";
export type { ToolGenerationBackend, ToolUseReport } from "./tool-eval.js";
export { generateWithTools } from "./tool-eval.js";
