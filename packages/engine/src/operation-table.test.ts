import { describe, expect, it } from "vitest";
import { GraphError } from "./errors.js";
import { GraphBuilder } from "./graph.js";
import { attentionOperations } from "./operations/attention.js";
import { decodeOperations } from "./operations/decode.js";
import { elementwiseOperations } from "./operations/elementwise.js";
import { embeddingOperations } from "./operations/embedding.js";
import { lossesOperations } from "./operations/losses.js";
import { matrixOperations } from "./operations/matrix.js";
import { normalizationOperations } from "./operations/normalization.js";
import { reductionOperations } from "./operations/reduction.js";
import { shapeOperations } from "./operations/shape.js";
import { type OperationName, operations } from "./ops.js";

// This file imports the table and the builder only (no model code), so the decode rows'
// presence below does not depend on any other module having been loaded first.
const families = {
  elementwise: elementwiseOperations,
  matrix: matrixOperations,
  shape: shapeOperations,
  reduction: reductionOperations,
  embedding: embeddingOperations,
  attention: attentionOperations,
  normalization: normalizationOperations,
  losses: lossesOperations,
  decode: decodeOperations,
};

describe("the op table", () => {
  it("is the disjoint union of the families, each row from exactly one family", () => {
    const owners = new Map<string, string[]>();
    for (const [family, rows] of Object.entries(families)) {
      for (const name of Object.keys(rows)) owners.set(name, [...(owners.get(name) ?? []), family]);
    }
    expect([...owners.entries()].filter(([, owner]) => owner.length > 1)).toEqual([]);
    expect(Object.keys(operations).sort()).toEqual([...owners.keys()].sort());
  });

  it("holds the decode ops by construction", () => {
    expect(Object.keys(operations)).toEqual(expect.arrayContaining(["appendSequence", "lastPosition"]));
    const graph = new GraphBuilder();
    const x = graph.input({ name: "x", dtype: "float32", shape: ["batch", "sequence", 4] });
    expect(graph.apply("lastPosition", [x])[0]!.describe()).toContain("[batch, 1, 4]");
  });

  it("cannot be changed at run time: the table and every row are frozen", () => {
    expect(Object.isFrozen(operations)).toBe(true);
    for (const [name, row] of Object.entries(operations))
      expect([name, Object.isFrozen(row)]).toEqual([name, true]);
    expect(() => {
      (operations as Record<string, unknown>)["extra"] = operations.add;
    }).toThrow(TypeError);
    expect(() => {
      (operations.add as { gradient?: unknown }).gradient = "none";
    }).toThrow(TypeError);
    expect(Object.hasOwn(operations, "extra")).toBe(false);
  });

  it("names ops by a type: a misspelt op is a compile error, and a GraphError from untyped callers", () => {
    const graph = new GraphBuilder();
    const x = graph.input({ name: "x", dtype: "float32", shape: [2, 3] });
    const name: OperationName = "softmax";
    expect(graph.apply(name, [x])[0]!.describe()).toContain("[2, 3]");
    // @ts-expect-error "sofmax" is not an OperationName
    expect(() => graph.apply("sofmax", [x])).toThrow(GraphError);
    // Inherited Object members are not ops either.
    expect(() => graph.apply("toString" as OperationName, [x])).toThrow(/unknown op toString/);
  });
});
