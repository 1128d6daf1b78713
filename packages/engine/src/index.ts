/**
 * @posttrain/engine — trains and runs models on the CPU through onnxruntime-node by
 * expressing the forward and backward pass as one ONNX graph (see README.md).
 */

export type { GradientsParams } from "./autodiff.js";
export { gradients } from "./autodiff.js";
export {
  type CheckpointState,
  type LoadedCheckpoint,
  loadCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
} from "./checkpoint.js";
export {
  type Dimension,
  type DimensionLike,
  dimension,
  dimensionsEqual,
  divideDimensions,
  formatShape,
  multiplyDimensions,
  productOfDimensions,
} from "./dims.js";
export { type EmittedModel, Emitter, emitModel, type OnnxAttribute, opsetVersion } from "./emit.js";
export {
  CheckpointError,
  ExecutionProviderError,
  GradientError,
  GraphError,
  RuntimeInputError,
  ShapeError,
} from "./errors.js";
export {
  createEmbeddedGenerationBackend,
  type EmbeddedGenerationBackendOptions,
  promptTokenIds,
} from "./generation/backend.js";
export {
  type CompletionLogProbs,
  type CompletionRow,
  computeCompletionLogProbs,
} from "./generation/completion-log-probs.js";
export {
  ConversationDecoder,
  type ConversationTurn,
  type ConversationTurnRequest,
} from "./generation/conversation-decoder.js";
export { type DecodeLayerCache, DecodeState, DecodingSession } from "./generation/decoding-session.js";
export { type GeneratedSequence, type GenerationRow, generateTokens } from "./generation/generate.js";
export {
  logSoftmax,
  type SampledToken,
  type SamplingParameters,
  sampleToken,
} from "./generation/sampling.js";
export type { GenerationTokenizer } from "./generation/tokenizer.js";
export {
  type Attributes,
  type DataType,
  type FloatType,
  GraphBuilder,
  type GraphConstant,
  type GraphInput,
  type GraphNode,
  GraphTensor,
  type InputKind,
  type TensorType,
} from "./graph.js";
export { type Reduction, sequenceLogProbs, tokenCrossEntropy } from "./losses.js";
export {
  type ArchitectureName,
  type DecoderConfig,
  decoderConfigFromLlama,
  type Llama3RopeScaling,
  parseHuggingFaceConfig,
  ropeInverseFrequencies,
  supportedArchitectures,
  UnsupportedModelError,
} from "./model/architecture.js";
export {
  type DecoderInputs,
  DecoderModel,
  type DecoderModelOptions,
  type ParameterSpec,
  threadInvariantInnerBlock,
} from "./model/decoder.js";
export {
  type LlamaConfig,
  type LlamaConfigInput,
  llamaConfigSchema,
  parseLlamaConfig,
} from "./model/llama-config.js";
export {
  huggingFaceTensors,
  initializePretrainedModel,
  loadPretrainedModel,
  ModelFolderError,
  modelHash,
  type PretrainedModel,
  savePretrainedModel,
  tokenizerFileNames,
} from "./model/pretrained.js";
export { decodeModel, encodeModel } from "./onnx-proto.js";
export { type GradientParams, type OperationDefinition, type OperationName, operations } from "./ops.js";
export { AdamW, type AdamWOptions, type AdamWState, clipFactor, globalGradientNorm } from "./optimizer.js";
export { type LayoutEntry, ParameterLayout, packParameters } from "./parameters.js";
export {
  allocatorEnvironment,
  availableExecutionProviders,
  CompiledGraph,
  type CompileOptions,
  compileGraph,
  type ExecutionProvider,
  type Feed,
  OutputBuffer,
} from "./runtime.js";
export {
  encodeSafetensors,
  floatToBfloat16Bits,
  parseSafetensors,
  readSafetensors,
  type SafetensorsDtype,
  SafetensorsError,
  type SafetensorsTensor,
  type TensorToWrite,
  writeSafetensors,
} from "./safetensors.js";
export {
  type LearningRateSchedule,
  learningRateAt,
  learningRateScheduleSchema,
  warmupSteps,
} from "./schedule.js";
export {
  buildCausalLmTrainingGraph,
  CausalLmTrainer,
  parameterGradientOutputs,
  type StepResult,
  type TokenBatch,
  type TrainerOptions,
  trainerOptionsSchema,
} from "./trainer.js";
