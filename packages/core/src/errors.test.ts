import { describe, expect, it } from "vitest";
import { IntegrityError, PosttrainError } from "./errors.js";

describe("PosttrainError", () => {
  it("carries a stable code, cause and details", () => {
    const cause = new Error("root");
    const error = new PosttrainError({
      code: "hub_not_found",
      message: "missing",
      cause,
      details: { repo: "a/b" },
    });
    expect(error.code).toBe("hub_not_found");
    expect(error.cause).toBe(cause);
    expect(error.toJSON()).toEqual({
      name: "PosttrainError",
      code: "hub_not_found",
      message: "missing",
      details: { repo: "a/b" },
    });
  });

  it("recognises instances from another copy of the package by symbol, not prototype", () => {
    // Simulates a second installed copy: a different class, same global marker.
    const foreign = Object.assign(new Error("x"), {
      [Symbol.for("posttrain.error")]: true,
      code: "x_failed",
    });
    expect(PosttrainError.isInstance(foreign)).toBe(true);
    expect(foreign instanceof PosttrainError).toBe(false);
    expect(PosttrainError.isInstance(new Error("plain"))).toBe(false);
    expect(PosttrainError.isInstance({ code: "x" })).toBe(false);
    expect(PosttrainError.isInstance(null)).toBe(false);
    expect(PosttrainError.hasCode(new IntegrityError({ message: "m" }), "integrity_mismatch")).toBe(true);
  });
});
