/**
 * Learning-rate schedules (Hugging Face `get_*_schedule_with_warmup` semantics): linear
 * warmup from 0 to `peak` over the warmup steps, then constant, linear decay to 0, or
 * cosine decay to 0 at `totalSteps`. `step` counts optimizer updates already applied
 * (0 for the first update).
 */
import { parseWithSchema } from "@posttrain/core";
import { z } from "zod";

export const learningRateScheduleSchema = z.object({
  kind: z.enum(["constant", "linear", "cosine"]),
  peak: z.number().nonnegative(),
  totalSteps: z.number().int().positive(),
  /** Warmup as a fraction of totalSteps (Tulu: 0.03) or as a number of steps. */
  warmup: z
    .union([
      z.object({ ratio: z.number().min(0).max(1) }),
      z.object({ steps: z.number().int().nonnegative() }),
    ])
    .default({ steps: 0 }),
});

export type LearningRateSchedule = z.input<typeof learningRateScheduleSchema>;

/** Number of warmup steps (a ratio rounds up, as open-instruct does). */
export function warmupSteps(schedule: LearningRateSchedule): number {
  const parsed = parseWithSchema({
    schema: learningRateScheduleSchema,
    value: schedule,
    label: "learning rate schedule",
  });
  return "ratio" in parsed.warmup ? Math.ceil(parsed.warmup.ratio * parsed.totalSteps) : parsed.warmup.steps;
}

/** The learning rate for update number `step` (0-based). */
export function learningRateAt(params: { schedule: LearningRateSchedule; step: number }): number {
  const schedule = parseWithSchema({
    schema: learningRateScheduleSchema,
    value: params.schedule,
    label: "learning rate schedule",
  });
  const warmup = warmupSteps(schedule);
  const { step } = params;
  if (step < warmup) return (schedule.peak * step) / Math.max(1, warmup);
  if (schedule.kind === "constant") return schedule.peak;
  const progress = (step - warmup) / Math.max(1, schedule.totalSteps - warmup);
  if (schedule.kind === "linear") return schedule.peak * Math.max(0, 1 - progress);
  return schedule.peak * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
}
