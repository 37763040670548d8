/**
 * A concurrency limit for the end-to-end tests: each task starts several OS
 * processes, and a 2-core machine runs only about two pipelines well at once.
 */
export type Limited = <T>(task: () => Promise<T>) => Promise<T>;

export function concurrencyLimit(slots: number): Limited {
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = (): void => {
    active--;
    waiting.shift()?.();
  };
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= slots) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      release();
    }
  };
}
