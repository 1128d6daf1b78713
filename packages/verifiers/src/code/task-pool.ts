/**
 * A bounded pool: at most `concurrency` tasks run at once, the rest wait in FIFO order.
 * A finishing task hands its slot straight to the next waiter, so the bound is never
 * exceeded, even transiently. (Twenty lines; not worth a dependency.)
 */
export interface TaskPool {
  readonly concurrency: number;
  run<T>(task: () => Promise<T>): Promise<T>;
}

export function createTaskPool({ concurrency }: { concurrency: number }): TaskPool {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  let active = 0;
  const waiting: Array<() => void> = [];
  return {
    concurrency,
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active < concurrency) active += 1;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await task();
      } finally {
        const next = waiting.shift();
        if (next !== undefined) next();
        else active -= 1;
      }
    },
  };
}
