/**
 * A duration in ms from the environment variable `name`, or `defaultMs` when it is unset or
 * empty. Lets a run shorten (or lengthen) a test's fixed window without editing the test; a value
 * that is not a whole, non-negative number of milliseconds fails at load, naming the variable.
 */
export function msFromEnv(name: string, defaultMs: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return defaultMs;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 0) throw new TypeError(`${name} must be a whole number of milliseconds, got "${raw}"`);
  return ms;
}
