export {
  armsClaim,
  armsPublishProblems,
  armsTask,
  judgeArms,
  judgeRecordedArms,
  noToolsVariant,
} from "./arms.js";
export { CompareArmsError, compareArms } from "./compare-arms.js";
export {
  defaultMicroToolsDataSizes,
  type GeneratedFiles,
  generateMicroToolsFiles,
  type MicroToolsDataSizes,
  microToolsDataSeed,
  microToolsDataVersion,
  writeMicroToolsFiles,
} from "./generate.js";
export {
  type ArithmeticProblem,
  answerDirectly,
  answerWithTool,
  calculatorCall,
  calculatorInstructions,
  drawProblem,
  type ProblemKind,
  toolOutput,
} from "./problems.js";
export { recipe, toolOutputSpan } from "./recipe.js";
