import { describe, expect, it } from "vitest";
import { encodeSafetensors, floatToBfloat16Bits, parseSafetensors } from "./safetensors.js";

function bytesOf(parts: Iterable<Uint8Array>): Uint8Array {
  const chunks = [...parts];
  const out = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** A hand-built file: header JSON + raw little-endian bytes. */
function handBuilt(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

describe("safetensors", () => {
  it("writes F32 with an 8-aligned header and {format: pt}, and reads it back", () => {
    const data = Float32Array.from([1.5, -2, 3.25, 0, 1e-30, -7]);
    const bytes = bytesOf(encodeSafetensors({ tensors: [{ name: "w", shape: [2, 3], data }], dtype: "F32" }));
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    expect(header).toEqual({
      __metadata__: { format: "pt" },
      w: { dtype: "F32", shape: [2, 3], data_offsets: [0, 24] },
    });
    const parsed = parseSafetensors({ bytes, label: "mem" });
    expect(parsed.tensors.get("w")).toEqual({ shape: [2, 3], dtype: "F32", data });
  });

  it("rounds to BF16 to nearest even and reads BF16 back exactly", () => {
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1); 1 + 3·2^-8 ties up to 1 + 2^-6.
    const values = Float32Array.from([
      1,
      1 + 2 ** -8,
      1 + 3 * 2 ** -8,
      1 + 2 ** -8 + 2 ** -20,
      -3.140625,
      65504,
      Number.NaN,
    ]);
    const bits = floatToBfloat16Bits(values);
    const back = new Float32Array(new Uint32Array(Array.from(bits, (value) => value << 16)).buffer);
    expect(Array.from(back.subarray(0, 6))).toEqual([1, 1, 1 + 2 ** -6, 1 + 2 ** -7, -3.140625, 65536]);
    expect(Number.isNaN(back[6]!)).toBe(true);
    const bytes = bytesOf(
      encodeSafetensors({ tensors: [{ name: "x", shape: [7], data: values }], dtype: "BF16" }),
    );
    const read = parseSafetensors({ bytes, label: "mem" }).tensors.get("x")!;
    expect(read.dtype).toBe("BF16");
    expect(Array.from(read.data.subarray(0, 6))).toEqual(Array.from(back.subarray(0, 6)));
  });

  it("decodes F16 exactly, subnormals and infinities included", () => {
    const halves = Uint16Array.from([0x3c00, 0xc000, 0x0001, 0x7bff, 0xfc00, 0x3555]);
    const bytes = handBuilt(
      { h: { dtype: "F16", shape: [6], data_offsets: [0, 12] } },
      new Uint8Array(halves.buffer),
    );
    const read = parseSafetensors({ bytes, label: "mem" }).tensors.get("h")!;
    expect(Array.from(read.data)).toEqual([
      1,
      -2,
      2 ** -24,
      65504,
      Number.NEGATIVE_INFINITY,
      Math.fround(0.333251953125),
    ]);
  });

  it("names the file and tensor in errors", () => {
    expect(() => parseSafetensors({ bytes: new Uint8Array(4), label: "a.safetensors" })).toThrow(
      /a\.safetensors: shorter/,
    );
    const int8 = handBuilt({ q: { dtype: "I8", shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2));
    expect(() => parseSafetensors({ bytes: int8, label: "b" })).toThrow(
      /tensor q has dtype I8; supported: F32, BF16, F16/,
    );
    const short = handBuilt({ q: { dtype: "F32", shape: [4], data_offsets: [0, 8] } }, new Uint8Array(8));
    expect(() => parseSafetensors({ bytes: short, label: "c" })).toThrow(
      /tensor q offsets \[0, 8\] do not fit shape \[4\] F32/,
    );
  });
});
