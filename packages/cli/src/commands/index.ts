import type { RegisterCommand } from "../command.js";
import { register as compare } from "./compare.js";
import { register as compareResults } from "./compare-results.js";
import { register as data } from "./data.js";
import { register as doctor } from "./doctor.js";
import { register as engine } from "./engine.js";
import { register as evaluate } from "./eval.js";
import { register as exportCommand } from "./export.js";
import { register as generate } from "./generate.js";
import { register as hub } from "./hub.js";
import { register as jobs } from "./jobs.js";
import { register as lock } from "./lock.js";
import { register as model } from "./model.js";
import { register as newCommand } from "./new.js";
import { register as plan } from "./plan.js";
import { register as push } from "./push.js";
import { register as report } from "./report.js";
import { register as reproduce } from "./reproduce.js";
import { register as run } from "./run.js";
import { register as serve } from "./serve.js";
import { register as train } from "./train.js";
import { register as verify } from "./verify.js";

/** Every `posttrain` subcommand, in the order `--help` lists them. Add new ones here. */
export const commands: RegisterCommand[] = [
  doctor,
  hub,
  data,
  verify,
  engine,
  evaluate,
  train,
  model,
  generate,
  serve,
  plan,
  lock,
  run,
  reproduce,
  report,
  compare,
  compareResults,
  exportCommand,
  jobs,
  push,
  newCommand,
];
