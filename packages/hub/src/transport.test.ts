import { HubApiError } from "@huggingface/hub";
import { PosttrainError } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { HubError } from "./errors.js";
import {
  backoffDelay,
  isTransientError,
  RetriesExhaustedError,
  TransientTransferError,
  withRetries,
} from "./transport.js";

const policy = { attempts: 3, initialDelayMilliseconds: 1, maximumDelayMilliseconds: 3 };

describe("transient errors", () => {
  it("recognises 5xx/429, socket errors and cut bodies, also inside causes", () => {
    expect(isTransientError(new HubApiError("u", 503))).toBe(true);
    expect(isTransientError(new HubApiError("u", 429))).toBe(true);
    expect(isTransientError(new HubApiError("u", 404))).toBe(false);
    expect(isTransientError(new TypeError("terminated"))).toBe(true);
    expect(
      isTransientError(
        new TypeError("fetch failed", { cause: Object.assign(new Error("x"), { code: "ECONNRESET" }) }),
      ),
    ).toBe(true);
    const wrapped = new PosttrainError({
      code: "atomic_write_failed",
      message: "w",
      cause: new TransientTransferError("cut"),
    });
    expect(isTransientError(wrapped)).toBe(true);
    expect(isTransientError(new HubError({ code: "hub_hash_mismatch", message: "m" }))).toBe(false);
    expect(isTransientError(new Error("other"))).toBe(false);
  });

  it("backs off exponentially up to the cap", () => {
    const slow = { attempts: 6, initialDelayMilliseconds: 100, maximumDelayMilliseconds: 350 };
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelay(slow, attempt))).toEqual([0, 100, 200, 350, 350]);
  });
});

describe("withRetries", () => {
  it("retries transient failures and returns the first success", async () => {
    const attempts: number[] = [];
    const delays: number[] = [];
    const value = await withRetries({
      policy,
      onRetry: (event) => delays.push(event.delayMilliseconds),
      operation: async (attempt) => {
        attempts.push(attempt);
        if (attempt < 3) throw new HubApiError("u", 502);
        return "ok";
      },
    });
    expect(value).toBe("ok");
    expect(attempts).toEqual([1, 2, 3]);
    expect(delays).toEqual([1, 2]);
  });

  it("throws non-transient errors at once and gives up after the last attempt", async () => {
    let calls = 0;
    await expect(
      withRetries({
        policy,
        operation: async () => {
          calls += 1;
          throw new HubApiError("u", 401);
        },
      }),
    ).rejects.toBeInstanceOf(HubApiError);
    expect(calls).toBe(1);
    const error = await withRetries({
      policy,
      operation: async () => {
        throw new TransientTransferError("cut");
      },
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as RetriesExhaustedError).attempts).toBe(3);
  });
});
