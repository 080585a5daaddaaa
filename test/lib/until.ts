// until.ts - wait for a condition, never for a fixed time: tests and the reliability suite.

/**
 * Calls f every `everyMs` until it returns something truthy, and returns that; throws naming
 * `what` once `ms` have passed. With `tolerateErrors`, an exception from f counts as "not yet"
 * (a server still starting); otherwise it ends the wait.
 */
export async function until<T>(f: () => T | Promise<T>, ms: number, what: string, opts: { everyMs?: number; tolerateErrors?: boolean } = {}): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await f();
      if (v) return v as Exclude<T, false | null | undefined | 0 | ''>;
    } catch (err) {
      if (!opts.tolerateErrors) throw err;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 50));
  }
}
