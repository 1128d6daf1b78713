/**
 * @posttrain/export — scale out on existing engines: open-instruct launch bundles, Slurm and
 * Ray launchers, remote generation with weight pushes, Hub push with a model card, and
 * comparison of results produced elsewhere. See README.md and docs/scale-out.md.
 */
export * from "./errors.js";
export * from "./launchers/ray-jobs.js";
export * from "./launchers/slurm.js";
export * from "./open-instruct/bundle.js";
export * from "./open-instruct/check.js";
export * from "./open-instruct/commits.js";
export * from "./open-instruct/dataclass-fields.js";
export * from "./open-instruct/fidelity.js";
export * from "./open-instruct/flag-validation.js";
export * from "./open-instruct/launch.js";
export * from "./open-instruct/published-commands.js";
export * from "./open-instruct/stage-commands.js";
export * from "./push/model-card.js";
export * from "./push/push.js";
export * from "./remote/weight-push.js";
export * from "./remote/weight-sync.js";
export * from "./results/compare.js";
