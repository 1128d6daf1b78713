/**
 * Test support of the training stages (`@posttrain/training/test`; not in the published files).
 * The kill/resume child's body is `@posttrain/training/test/child` (it must not load vitest).
 */
export { describeKillResume, type KillResumeParams } from "./kill-resume.js";
