import { describe, expect, it } from "vitest";
import { CanonicalJsonError, canonicalJson, fingerprint } from "./canonical-json.js";

describe("canonicalJson", () => {
  it("ignores key order at every depth", () => {
    const a = { b: 1, a: { y: [1, { q: 2, p: 3 }], x: "s" } };
    const b = { a: { x: "s", y: [1, { p: 3, q: 2 }] }, b: 1 };
    expect(canonicalJson(a)).toBe('{"a":{"x":"s","y":[1,{"p":3,"q":2}]},"b":1}');
    expect(fingerprint(a)).toBe(fingerprint(b));
  });

  it("writes numbers in one form whatever their source spelling", () => {
    const spelled = JSON.parse('{"lr": 5.0e-6, "beta": 5.0, "n": 1E2, "zero": -0.0, "big": 1e21}');
    const plain = { lr: 0.000005, beta: 5, n: 100, zero: 0, big: 1e21 };
    expect(canonicalJson(spelled)).toBe('{"beta":5,"big":1e+21,"lr":0.000005,"n":100,"zero":0}');
    expect(fingerprint(spelled)).toBe(fingerprint(plain));
  });

  it("changes the hash when a value changes", () => {
    expect(fingerprint({ lr: 5e-6 })).not.toBe(fingerprint({ lr: 5e-7 }));
    expect(fingerprint({ a: "1" })).not.toBe(fingerprint({ a: 1 }));
    expect(fingerprint([1, 2])).not.toBe(fingerprint([2, 1]));
  });

  it("omits undefined properties and keeps non-ASCII keys sorted by code unit", () => {
    expect(canonicalJson({ b: undefined, a: 1 })).toBe('{"a":1}');
    expect(canonicalJson({ é: 1, z: 2, A: 3 })).toBe('{"A":3,"z":2,"é":1}');
  });

  it("gives a fixed sha256 for a fixed value (the same on every machine)", () => {
    // sha256 of the literal string {"recipe":"micro","seed":1}
    expect(fingerprint(JSON.parse('{"seed":1.0,"recipe":"micro"}'))).toBe(
      "abbdddb02029b19e9cbdeca632760d59f7e19db3b8f1cefc34b35218af0ee32a",
    );
  });

  it("rejects values that have no canonical form, naming the path", () => {
    expect(() => canonicalJson({ a: [1, Number.NaN] })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ a: [1, Number.NaN] })).toThrow("$.a[1]");
    expect(() => canonicalJson({ f: () => 1 })).toThrow("unsupported type function");
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow("cycle");
  });
});
