import { z } from "zod";
import type { Verifier, VerifierResult, VerifyContext } from "../types.js";
import type { ProgramLanguage } from "./environment.js";
import { extractCodeBlock } from "./extract.js";
import { type ProgramTest, runProgramTests } from "./run-program-tests.js";

const languageSchema = z.enum(["python", "javascript", "typescript"]);

/** open-instruct stores test lists either as JSON lists or as JSON-encoded strings of them. */
function decodeJsonString(value: unknown, context: z.RefinementCtx): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    context.addIssue({ code: "custom", message: "expected a list of tests or a JSON string encoding one" });
    return z.NEVER;
  }
}

/** Ground truth of `code`, normalised. */
export interface CodeLabel {
  tests: string[];
  language: ProgramLanguage;
  /** Wall-clock seconds per test (default 3, as HumanEval). */
  wallSeconds?: number;
}

/** Ground truth of `code_stdio`, normalised. */
export interface CodeStdioLabel {
  tests: Array<{ input: string; output: string }>;
  language: ProgramLanguage;
  wallSeconds?: number;
}

const assertTestsSchema = z
  .array(z.string().min(1, "a test snippet must not be empty"))
  .min(1, "at least one test is required");
const stdioTestsSchema = z
  .array(z.object({ input: z.string(), output: z.string() }))
  .min(1, "at least one test is required");

/**
 * `code` label: open-instruct's list of Python test snippets (`["assert add(1,2)==3", …]`),
 * the same list JSON-encoded as a string, or `{ tests, language?, wallSeconds? }`.
 */
export const codeLabelSchema: z.ZodType<CodeLabel> = z
  .unknown()
  .transform(decodeJsonString)
  .pipe(
    z.union([
      assertTestsSchema.transform((tests): CodeLabel => ({ tests, language: "python" })),
      z
        .object({
          tests: assertTestsSchema,
          language: languageSchema.default("python"),
          wallSeconds: z.number().positive().max(600).optional(),
        })
        .transform(
          (label): CodeLabel => ({
            tests: label.tests,
            language: label.language,
            ...(label.wallSeconds === undefined ? {} : { wallSeconds: label.wallSeconds }),
          }),
        ),
    ]),
  );

/**
 * `code_stdio` label: a list of `{ input, output }` pairs (stdin → expected stdout), the same
 * JSON-encoded as a string, or `{ tests, language?, wallSeconds? }`.
 */
export const codeStdioLabelSchema: z.ZodType<CodeStdioLabel> = z
  .unknown()
  .transform(decodeJsonString)
  .pipe(
    z.union([
      stdioTestsSchema.transform((tests): CodeStdioLabel => ({ tests, language: "python" })),
      z
        .object({
          tests: stdioTestsSchema,
          language: languageSchema.default("python"),
          wallSeconds: z.number().positive().max(600).optional(),
        })
        .transform(
          (label): CodeStdioLabel => ({
            tests: label.tests,
            language: label.language,
            ...(label.wallSeconds === undefined ? {} : { wallSeconds: label.wallSeconds }),
          }),
        ),
    ]),
  );

async function verifyProgram(params: {
  response: string;
  language: ProgramLanguage;
  tests: ProgramTest[];
  wallSeconds: number | undefined;
  context: VerifyContext;
}): Promise<VerifierResult> {
  const program = extractCodeBlock({ response: params.response, language: params.language });
  if (program === null) {
    return {
      score: 0,
      details: {
        language: params.language,
        program: null,
        reason: "no_code_block",
        passed: 0,
        total: params.tests.length,
        tests: [],
      },
    };
  }
  const result = await runProgramTests({
    program,
    language: params.language,
    tests: params.tests,
    limits: params.wallSeconds === undefined ? {} : { wallSeconds: params.wallSeconds },
    deadline: Date.now() + params.context.timeoutMilliseconds,
    ...(params.context.signal === undefined ? {} : { signal: params.context.signal }),
  });
  return {
    score: result.score,
    details: {
      language: params.language,
      program,
      passed: result.passed,
      total: result.total,
      tests: result.outcomes,
      sandbox: result.sandbox,
    },
  };
}

/** `code`: the fraction of assert snippets that ran and held after the response's program. */
export const codeVerifier: Verifier<CodeLabel> = {
  name: "code",
  version: "2.0.0",
  description:
    "Runs the last ```python block (or the label's language) of the response, then each assert snippet in its own sandboxed process; score = fraction of snippets whose assertions actually ran and held.",
  labelSchema: codeLabelSchema,
  verify: ({ response, label, context }) =>
    verifyProgram({
      response,
      language: label.language,
      tests: label.tests.map((code) => ({ kind: "assert", code })),
      wallSeconds: label.wallSeconds,
      context,
    }),
};

/** `code_stdio`: the fraction of stdin → stdout pairs the response's program reproduces. */
export const codeStdioVerifier: Verifier<CodeStdioLabel> = {
  name: "code_stdio",
  version: "2.0.0",
  description:
    "Runs the last ```python block (or the label's language) of the response once per test with the test input on stdin; score = fraction of tests whose stdout matches (lines stripped, as open-instruct) with a clean exit.",
  labelSchema: codeStdioLabelSchema,
  verify: ({ response, label, context }) =>
    verifyProgram({
      response,
      language: label.language,
      tests: label.tests.map((test) => ({ kind: "stdio", input: test.input, output: test.output })),
      wallSeconds: label.wallSeconds,
      context,
    }),
};
