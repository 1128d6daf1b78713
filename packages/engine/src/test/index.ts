/**
 * `@posttrain/engine/test`: test support shared with the trainers' packages (built into
 * `dist/test/`, never published). The rest of this folder serves the engine's own tests:
 * tiny model configs, a finite-difference gradient checker, the kill/resume training child
 * and the PyTorch reference scripts of the parity tests.
 */
export { describeKillResume, type KillResumeParams } from "./kill-resume.js";
