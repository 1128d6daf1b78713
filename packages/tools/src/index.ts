/**
 * @posttrain/tools — tools for tool-use rollouts and evals. See README.md.
 */
export { builtinToolNames, builtinToolRegistry } from "./builtins.js";
export type { CalculatorArguments } from "./calculator.js";
export { calculatorBounds, createCalculatorTool, evaluateExpression, formatRational } from "./calculator.js";
export { callTool, errorObservation, observationText } from "./call-tool.js";
export { tagFormatInstructions, toolDefinitions } from "./definitions.js";
export type {
  ConversationGenerator,
  DriverTokenizer,
  GeneratedTurn,
  RolloutFinish,
  ToolConversation,
  ToolRollout,
  ToolRolloutMetrics,
  TurnRequest,
} from "./driver.js";
export { runToolConversations } from "./driver.js";
export type { ToolErrorCode } from "./errors.js";
export { ToolError } from "./errors.js";
export { createChatTemplateFormat, parseHermesToolCalls } from "./formats/chat-template.js";
export { createTagFormat } from "./formats/tags.js";
export type { ParsedToolCall, ToolCallFormat } from "./formats/types.js";
export type { ToolLimitsInput } from "./limits.js";
export { parseToolLimits, toolLimitsSchema, truncateText } from "./limits.js";
export type { PythonArguments } from "./python.js";
export { createPythonTool } from "./python.js";
export type { ToolRegistry } from "./registry.js";
export { createToolRegistry, selectTools } from "./registry.js";
export type { ToolUseConfig, ToolUseConfigInput } from "./tool-use-config.js";
export { toolUseConfigSchema } from "./tool-use-config.js";
export type {
  Tool,
  ToolCall,
  ToolContext,
  ToolErrorKind,
  ToolLimits,
  ToolObservation,
  ToolResult,
} from "./types.js";
