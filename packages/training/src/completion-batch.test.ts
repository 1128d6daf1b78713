import { describe, expect, it } from "vitest";
import { promptCompletionBatch } from "./completion-batch.js";

describe("promptCompletionBatch", () => {
  it("right-pads rows, shifts targets and trains only completion tokens whose mask is 1", () => {
    const batch = promptCompletionBatch({
      rows: [
        { promptIds: [1, 2], completionIds: [5, 6, 7], completionMask: [1, 0, 1] },
        { promptIds: [1], completionIds: [9] },
      ],
    });
    expect(batch.batchSize).toBe(2);
    expect(batch.sequenceLength).toBe(5);
    expect(Array.from(batch.inputIds, Number)).toEqual([1, 2, 5, 6, 7, 1, 9, 0, 0, 0]);
    // Position t predicts t+1: row 0 predicts 5 (mask 1), 6 (mask 0), 7 (mask 1); row 1 predicts 9.
    expect(Array.from(batch.labels, Number)).toEqual([0, 5, 6, 7, 0, 9, 0, 0, 0, 0]);
    expect(Array.from(batch.lossMask)).toEqual([0, 1, 0, 1, 0, 1, 0, 0, 0, 0]);
    expect(Array.from(batch.segmentIds!, Number)).toEqual([1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    expect(Array.from(batch.positionIds!, Number)).toEqual([0, 1, 2, 3, 4, 0, 1, 0, 0, 0]);
  });

  it("pads to a given sequence length (both sides of a preference pair share one shape)", () => {
    const batch = promptCompletionBatch({
      rows: [{ promptIds: [1], completionIds: [4] }],
      sequenceLength: 4,
    });
    expect(batch.sequenceLength).toBe(4);
    expect(Array.from(batch.lossMask)).toEqual([1, 0, 0, 0]);
  });
});
