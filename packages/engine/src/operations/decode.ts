/**
 * Two ops that only inference graphs need (part of the op table like every other family):
 *
 * - `appendSequence(past, new)`: ONNX Concat along `axis`, where the past length is a run-time
 *   symbol. The builder's `concat` needs a concrete axis (its sum must be known at build
 *   time); here the result's length is declared by the caller as another symbol (`total`,
 *   read from an input that has it), since dimensions are monomials and cannot add.
 * - `lastPosition(x)`: `x[:, -1:, ...]` of a `[batch, sequence, ...]` tensor (ONNX Gather
 *   with index −1), so prefill only computes logits for each row's last token.
 *
 * Neither has a gradient rule: they are never on a training path.
 */
import { type Dimension, dimension, dimensionsEqual, formatShape } from "../dims.js";
import { ShapeError } from "../errors.js";
import { defineOperations } from "./definition.js";

const shapes = (inputs: readonly { shape: readonly Dimension[] }[]) =>
  inputs.map((input) => formatShape(input.shape)).join(", ");

export const decodeOperations = defineOperations({
  appendSequence: {
    infer: ({ op, inputs, attributes }) => {
      const [past, next] = inputs as [(typeof inputs)[0], (typeof inputs)[0]];
      const axis = attributes["axis"] as number;
      if (past.rank !== next.rank || past.dtype !== next.dtype) {
        throw new ShapeError({ message: `${op}: inputs differ in rank or dtype (${shapes(inputs)})` });
      }
      past.shape.forEach((value, index) => {
        if (index !== axis && !dimensionsEqual(value, next.shape[index]!)) {
          throw new ShapeError({ message: `${op}: dimension ${index} differs (${shapes(inputs)})` });
        }
      });
      const shape = [...past.shape];
      shape[axis] = dimension(attributes["resultSymbol"] as string);
      return [{ dtype: past.dtype, shape }];
    },
    emit: (emitter, node) => {
      emitter.one(
        "Concat",
        node.inputs.map((input) => input.name),
        { axis: { int: node.attributes["axis"] as number } },
        node.outputs[0]!.name,
      );
    },
    gradient: "none",
  },

  lastPosition: {
    infer: ({ op, inputs }) => {
      const x = inputs[0]!;
      if (x.rank < 2) throw new ShapeError({ message: `${op}: needs rank ≥ 2, got ${shapes(inputs)}` });
      const shape = [...x.shape];
      shape[1] = dimension(1);
      return [{ dtype: x.dtype, shape }];
    },
    emit: (emitter, node) => {
      emitter.one(
        "Gather",
        [node.inputs[0]!.name, emitter.int64s([-1])],
        { axis: { int: 1 } },
        node.outputs[0]!.name,
      );
    },
    gradient: "none",
  },
});
