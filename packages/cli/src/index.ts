export type { RegisterCommand } from "./command.js";
export { output } from "./command.js";
export type { DoctorReport } from "./commands/doctor.js";
export { doctor } from "./commands/doctor.js";
export { createProgram, exitCodes, main, UsageError } from "./program.js";
