/**
 * The op table: every op the graph builder can record, assembled once from the per-family
 * rows in operations/ and frozen. A row holds an op's shape inference, ONNX lowering and
 * gradient rule together (operations/definition.ts); adding an op is adding a row to its
 * family's file, after which `GraphBuilder.apply` and `OperationName` know it. Nothing adds
 * rows at run time: the table is the same whichever modules were imported first.
 */
import { attentionOperations } from "./operations/attention.js";
import { decodeOperations } from "./operations/decode.js";
import { elementwiseOperations } from "./operations/elementwise.js";
import { embeddingOperations } from "./operations/embedding.js";
import { lossesOperations } from "./operations/losses.js";
import { matrixOperations } from "./operations/matrix.js";
import { normalizationOperations } from "./operations/normalization.js";
import { reductionOperations } from "./operations/reduction.js";
import { shapeOperations } from "./operations/shape.js";

export const operations = Object.freeze({
  ...elementwiseOperations,
  ...matrixOperations,
  ...shapeOperations,
  ...reductionOperations,
  ...embeddingOperations,
  ...attentionOperations,
  ...normalizationOperations,
  ...lossesOperations,
  ...decodeOperations,
});

/** The name of an op in the table; a misspelt op name is a compile error. */
export type OperationName = keyof typeof operations;

export type { GradientParams, InferParams, OperationDefinition } from "./operations/definition.js";
