import { checkIfevalInstructions, type InstructionVerdict } from "../ifeval/check.js";

/** The verdict on one instruction (test helper). */
export async function verdictOf(params: {
  id: string;
  kwargs?: unknown;
  response: string;
  prompt?: string;
}): Promise<InstructionVerdict> {
  const result = await checkIfevalInstructions({
    response: params.response,
    instructionIds: [params.id],
    kwargs: [params.kwargs ?? {}],
    ...(params.prompt === undefined ? {} : { prompt: params.prompt }),
  });
  return result.instructions[0]!;
}

/** One table row: the response and whether the strict check must pass. */
export type Case = [response: string, strict: boolean];
