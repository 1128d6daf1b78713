import type { InstructionDefinition } from "./define.js";
import { googleInstructions } from "./instructions-google.js";
import { iftrainInstructions } from "./instructions-iftrain.js";

/**
 * Every supported instruction id → its definition: Google IFEval's 25 (`source: "ifeval"`)
 * and open-instruct IFEvalG's 29 IFTrain additions (`source: "iftrain"`), 54 in all.
 */
export const instructionRegistry: ReadonlyMap<string, InstructionDefinition> = new Map(
  [...googleInstructions, ...iftrainInstructions].map((instruction) => [instruction.id, instruction]),
);

/** The ids of Google IFEval's 25 instructions, in the reference registry's order. */
export const googleInstructionIds: readonly string[] = googleInstructions.map(
  (instruction) => instruction.id,
);

/** The ids of the 29 IFTrain constraints, in open-instruct's registry order. */
export const iftrainInstructionIds: readonly string[] = iftrainInstructions.map(
  (instruction) => instruction.id,
);
