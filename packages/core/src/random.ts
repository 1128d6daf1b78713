import { createHash } from "node:crypto";
import { PosttrainError } from "./errors.js";

/** The serialisable state of a {@link Random}, stored in checkpoints for exact resume. */
export interface RandomState {
  key: string;
  state: [number, number, number, number];
}

function deriveKey(parent: string, name: string): string {
  return createHash("sha256").update(parent).update("\0").update(name).digest("hex");
}

function stateFromKey(key: string): [number, number, number, number] {
  const words: [number, number, number, number] = [0, 0, 0, 0];
  for (let index = 0; index < 4; index += 1)
    words[index] = Number.parseInt(key.slice(index * 8, index * 8 + 8), 16) >>> 0;
  if (words.every((word) => word === 0)) words[0] = 1; // xoshiro must not start from all zeros
  return words;
}

const rotateLeft = (value: number, shift: number): number =>
  ((value << shift) | (value >>> (32 - shift))) >>> 0;

/**
 * A seeded, splittable pseudo-random generator (xoshiro128** on 32-bit integer arithmetic,
 * so the same seed gives the same draws on every machine and Node version).
 *
 * `stream(name)` derives an independent child generator from this generator's key and the
 * name only — never from how many numbers were drawn — so the draws of one stage or worker
 * do not shift when another stage draws more or fewer numbers.
 */
export class Random {
  readonly key: string;
  private readonly words: Uint32Array;

  private constructor(key: string, state?: readonly number[]) {
    this.key = key;
    this.words = Uint32Array.from(state ?? stateFromKey(key));
  }

  /** A root generator for a seed (an integer or any string). */
  static fromSeed(seed: number | string): Random {
    if (typeof seed === "number" && !Number.isSafeInteger(seed)) {
      throw new PosttrainError({ code: "invalid_seed", message: `seed must be a safe integer, got ${seed}` });
    }
    return new Random(deriveKey("posttrain.random.v1", `${typeof seed}:${seed}`));
  }

  /** Restores a generator saved with {@link Random.getState}. */
  static fromState(saved: RandomState): Random {
    if (!/^[0-9a-f]{64}$/.test(saved.key) || saved.state.length !== 4) {
      throw new PosttrainError({
        code: "invalid_random_state",
        message: "random state must have a 64-hex key and 4 words",
      });
    }
    return new Random(saved.key, saved.state);
  }

  /** An independent generator named `name`, e.g. `random.stream("sft").stream("worker-0")`. */
  stream(name: string): Random {
    return new Random(deriveKey(this.key, name));
  }

  getState(): RandomState {
    const [a = 0, b = 0, c = 0, d = 0] = this.words;
    return { key: this.key, state: [a, b, c, d] };
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.words;
    const result = Math.imul(rotateLeft(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotateLeft(s[3]!, 11);
    return result;
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** A uniform integer in [0, bound), without modulo bias. `bound` ≤ 2^32. */
  nextInt(bound: number): number {
    if (!Number.isInteger(bound) || bound <= 0 || bound > 4294967296) {
      throw new PosttrainError({
        code: "invalid_bound",
        message: `bound must be an integer in [1, 2^32], got ${bound}`,
      });
    }
    const limit = 4294967296 - (4294967296 % bound);
    for (;;) {
      const value = this.nextUint32();
      if (value < limit) return value % bound;
    }
  }

  /** A standard normal draw (Box–Muller; each call uses two uniforms). */
  nextNormal(): number {
    const u1 = 1 - this.nextFloat();
    const u2 = this.nextFloat();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let index = items.length - 1; index > 0; index -= 1) {
      const other = this.nextInt(index + 1);
      const swap = items[index]!;
      items[index] = items[other]!;
      items[other] = swap;
    }
    return items;
  }

  /** A random permutation of 0..length-1. */
  permutation(length: number): number[] {
    return this.shuffle(Array.from({ length }, (_, index) => index));
  }
}
