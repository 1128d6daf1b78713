import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";

/** One line of an `events.jsonl` file. `type` names the event, noun-verb (`step-end`). */
export interface RunEvent {
  type: string;
  /** ISO-8601 wall-clock time, added by the logger. */
  time: string;
  /** Seconds since the logger was created, added by the logger. */
  elapsed: number;
  [field: string]: unknown;
}

export interface EventLog {
  readonly path: string;
  /** Appends one event as a JSON line (synchronously: a kill loses at most this line). */
  write(event: { type: string; [field: string]: unknown }): RunEvent;
}

/** Opens (creating if needed) an append-only JSONL event log, e.g. `runs/…/events.jsonl`. */
export function createEventLog({
  path,
  now = () => new Date(),
}: {
  path: string;
  now?: () => Date;
}): EventLog {
  mkdirSync(dirname(path), { recursive: true });
  const started = now().getTime();
  return {
    path,
    write(event) {
      const time = now();
      const line: RunEvent = {
        ...event,
        type: event.type,
        time: time.toISOString(),
        elapsed: (time.getTime() - started) / 1000,
      };
      appendFileSync(path, `${JSON.stringify(line)}\n`);
      return line;
    },
  };
}

/**
 * Reads an event log. A last line cut short by a crash is ignored (reported in
 * `truncatedTail`); a malformed line elsewhere is an error, since that means corruption.
 */
export function readEvents({ path }: { path: string }): { events: RunEvent[]; truncatedTail: boolean } {
  const text = readFileSync(path, "utf8");
  const lines = text.split("\n");
  const events: RunEvent[] = [];
  let truncatedTail = false;
  lines.forEach((line, index) => {
    if (line.trim() === "") return;
    try {
      events.push(JSON.parse(line) as RunEvent);
    } catch (error) {
      if (index === lines.length - 1) truncatedTail = true;
      else throw new Error(`${path}:${index + 1} is not valid JSON`, { cause: error });
    }
  });
  return { events, truncatedTail };
}
