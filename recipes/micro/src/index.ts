export { byteToUnicode, type TrainedBytePairEncoding, trainByteLevelBpe } from "./byte-level-bpe.js";
export {
  datasetFilesOfTables,
  defaultMicroDataSizes,
  type GeneratedFiles,
  generateMicroFiles,
  type MicroDataSizes,
  microDataSeed,
  microDataVersion,
  microEndOfText,
  tokenizerFilesOfCorpus,
  writeGeneratedFiles,
  writeMicroFiles,
} from "./generate.js";
export {
  corruptAnswer,
  drawWordProblem,
  type InstructionConstraint,
  ifevalGroundTruth,
  instructionConstraints,
  type WordProblem,
} from "./problems.js";
export { recipe } from "./recipe.js";
