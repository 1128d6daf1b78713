import { Random } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { type PackingDocument, packBestFitDecreasing } from "./packing.js";
import { ignoredLabel } from "./transforms.js";

function documentOf(length: number, tag: number): PackingDocument {
  const inputIds = Int32Array.from({ length }, (_, index) => tag * 1000 + index);
  const labels = Int32Array.from(inputIds, (id, index) => (index % 3 === 0 ? ignoredLabel : id));
  return { inputIds, labels };
}

describe("packBestFitDecreasing", () => {
  it("places the longest documents first, each in the tightest row", () => {
    const lengths = [5, 7, 3, 2, 4, 1];
    const packed = packBestFitDecreasing({
      documents: lengths.map((length, index) => documentOf(length, index + 1)),
      sequenceLength: 8,
      padTokenId: 0,
    });
    // Sorted: 7(1) 5(0) 4(4) 3(2) 2(3) 1(5): 7→row0, 5→row1, 4→row2, 3→row1 (tight), 2→row2, 1→row0.
    expect(packed.documents).toEqual([
      [1, 5],
      [0, 2],
      [4, 3],
    ]);
    expect(packed.rowCount).toBe(3);
  });

  it("never lets a document cross a row or another document's segment", () => {
    const random = Random.fromSeed(7);
    const documents = Array.from({ length: 200 }, (_, index) =>
      documentOf(1 + random.nextInt(64), index + 1),
    );
    const sequenceLength = 64;
    const packed = packBestFitDecreasing({ documents, sequenceLength, padTokenId: -1 });
    const seen = new Set<number>();
    for (let row = 0; row < packed.rowCount; row += 1) {
      let offset = row * sequenceLength;
      packed.documents[row]!.forEach((documentIndex, segment) => {
        const document = documents[documentIndex]!;
        seen.add(documentIndex);
        for (let position = 0; position < document.inputIds.length; position += 1) {
          const at = offset + position;
          expect(packed.inputIds[at]).toBe(document.inputIds[position]);
          expect(packed.segmentIds[at]).toBe(segment + 1);
          expect(packed.positionIds[at]).toBe(position);
          expect(packed.labels[at]).toBe(position === 0 ? ignoredLabel : document.labels[position]);
        }
        offset += document.inputIds.length;
      });
      for (let at = offset; at < (row + 1) * sequenceLength; at += 1) {
        expect(packed.segmentIds[at]).toBe(0);
        expect(packed.inputIds[at]).toBe(-1);
        expect(packed.labels[at]).toBe(ignoredLabel);
      }
    }
    expect(seen.size).toBe(documents.length);
    const tokens = documents.reduce((sum, document) => sum + document.inputIds.length, 0);
    expect(packed.rowCount).toBeLessThanOrEqual(Math.ceil(tokens / sequenceLength) + 2);
  });

  it("rejects a document longer than the row", () => {
    expect(() =>
      packBestFitDecreasing({ documents: [documentOf(9, 1)], sequenceLength: 8, padTokenId: 0 }),
    ).toThrow(expect.objectContaining({ code: "data_packing_invalid" }));
  });
});
