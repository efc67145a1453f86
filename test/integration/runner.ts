/**
 * A small test runner for inside VS Code's extension host (the test payload's entry point must
 * export `run()`; its rejection is the exit code VS Code reports). Results go to the console,
 * which reaches the workbench page and from there the harness.
 */
export interface HostTest {
  name: string;
  fn: () => Promise<void>;
}

export async function runTests(tests: readonly HostTest[]): Promise<void> {
  const failures: string[] = [];
  const t0 = Date.now();
  for (const [i, t] of tests.entries()) {
    const s = Date.now();
    try {
      await t.fn();
      console.log(`[suite] ok ${i + 1} - ${t.name} (${Date.now() - s} ms)`);
    } catch (e) {
      const err = e as Error;
      failures.push(t.name);
      console.log(`[suite] not ok ${i + 1} - ${t.name}: ${err.message}\n${err.stack ?? ''}`);
    }
  }
  console.log(`[suite] ${tests.length - failures.length}/${tests.length} passed in ${Date.now() - t0} ms`);
  if (failures.length) throw new Error(`${failures.length} host test(s) failed: ${failures.join('; ')}`);
}

/** Polls until `fn` returns a value other than null/undefined/false, or throws after `ms`. */
export async function until<T>(what: string, fn: () => T | Promise<T>, ms = 15_000): Promise<Exclude<NonNullable<T>, false>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== null && v !== undefined && v !== false) return v as Exclude<NonNullable<T>, false>;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
