/** Embedding lookup (Gather) and its scatter-add backward. See definition.ts for the row contract. */
import { dimension } from "../dims.js";
import type { GraphTensor } from "../graph.js";
import { requireFloat, shapeError, shapesEqual } from "../graph-checks.js";
import { defineOperations, int, names } from "./definition.js";

export const embeddingOperations = defineOperations({
  embedding: {
    infer: ({ op, inputs }) => {
      const [table, indices] = inputs as [GraphTensor, GraphTensor];
      requireFloat(op, [table]);
      if (table.rank !== 2) shapeError({ op, inputs, reason: "the table must be 2-D [vocabulary, width]" });
      if (indices.dtype !== "int64") shapeError({ op, inputs, reason: "indices must be int64" });
      return [{ dtype: table.dtype, shape: [...indices.shape, table.shape[1]!] }];
    },
    emit: (emitter, node) => {
      emitter.one("Gather", names(node.inputs), { axis: int(0) }, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }): (GraphTensor | undefined)[] => {
      const [table, indices] = node.inputs as [GraphTensor, GraphTensor];
      return [
        dy && g.apply("embeddingBackward", [dy, indices], { vocabulary: table.shape[0]!.coefficient })[0],
        undefined,
      ];
    },
  },

  /**
   * Scatter-add of row gradients into a `[vocabulary, width]` table — zeros, or the optional
   * third input `base` (another gradient of the same table; see autodiff's `sumGradients`):
   * ScatterElements (axis 0, reduction add) over `dy` as `[tokens, width]` rows, each row's
   * token id repeated across its columns. Not ScatterND: ORT's CPU ScatterND(add) splits the
   * updates across intra-op threads, and repeated token ids then race, so the gradient changed
   * from run to run with more than one thread (onnxruntime#18048, #23396). ScatterElements
   * adds in index order on one thread: the same sum, bit for bit, at any thread count.
   * The zeros are shaped at run time from `dy`: a constant shape would be folded by ORT into a
   * permanent zero initializer the size of the table.
   */
  embeddingBackward: {
    infer: ({ op, inputs, attributes }) => {
      const dy = inputs[0]!;
      const shape = [dimension(attributes["vocabulary"] as number), dy.shape[dy.rank - 1]!];
      const base = inputs[2];
      if (base !== undefined && !shapesEqual(base.shape, shape))
        shapeError({ op, inputs, reason: "the base gradient must have the table's shape" });
      return [{ dtype: dy.dtype, shape }];
    },
    emit: (emitter, node) => {
      const [dy, indices, base] = node.inputs as [GraphTensor, GraphTensor, GraphTensor | undefined];
      const output = node.outputs[0]!;
      const rowShape = emitter.one(
        "Concat",
        [emitter.int64s([-1]), emitter.dimensionValue(output.shape[1]!)],
        {
          axis: int(0),
        },
      );
      const rows = emitter.one("Reshape", [dy.name, rowShape]);
      const column = emitter.one("Reshape", [indices.name, emitter.int64s([-1, 1])]);
      const index = emitter.one("Expand", [column, emitter.one("Shape", [rows])]);
      let data = base?.name;
      if (data === undefined) {
        const width = emitter.one("Shape", [dy.name], { start: int(-1) });
        const tableShape = emitter.one("Concat", [emitter.int64s([output.shape[0]!.coefficient]), width], {
          axis: int(0),
        });
        data = emitter.one("ConstantOfShape", [tableShape], { value: emitter.valueAttribute(0, dy.dtype) });
      }
      emitter.node("ScatterElements", [data, index, rows], { axis: int(0), reduction: { string: "add" } }, [
        output.name,
      ]);
    },
  },
});
