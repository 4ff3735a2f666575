import { describe, test } from 'node:test';
import type { EngineKind } from '../../services/engine/EngineTypes.ts';
import { findMediasoupWorker } from '../../services/engine/index.ts';

/** One engine, and whether its suites run on this machine. */
export interface EngineUnderTest {
  name: EngineKind;
  /** Why this engine's suites skip on this machine; false when they run. */
  skip: string | false;
}

const ENGINES: readonly EngineKind[] = ['embedded', 'mediasoup'];

export const NO_MEDIASOUP_WORKER = "no mediasoup worker binary (set MEDIASOUP_WORKER_BIN or install mediasoup's prebuilt worker)";

/**
 * Which media engines the engine contract and the end-to-end suites run against here. The
 * embedded engine always runs; mediasoup runs where its worker binary exists (the same lookup
 * the service does at start). `TEST_ENGINES=embedded,mediasoup` (comma-separated) restricts
 * the list; an engine left out, or one that cannot run here, is skipped with the reason, never
 * silently dropped.
 */
export function testEngines(env: NodeJS.ProcessEnv = process.env): EngineUnderTest[] {
  const only = env.TEST_ENGINES?.trim() ? env.TEST_ENGINES.split(',').map((s) => s.trim()).filter(Boolean) : [...ENGINES];
  for (const name of only) {
    if (!ENGINES.includes(name as EngineKind)) throw new TypeError(`TEST_ENGINES: unknown engine "${name}" (expected a comma-separated list of ${ENGINES.join(', ')})`);
  }
  return ENGINES.map((name) => {
    if (!only.includes(name)) return { name, skip: `left out by TEST_ENGINES=${env.TEST_ENGINES}` };
    if (name === 'mediasoup' && !findMediasoupWorker({ MEDIASOUP_WORKER_BIN: env.MEDIASOUP_WORKER_BIN || undefined })) {
      const bin = env.MEDIASOUP_WORKER_BIN;
      return { name, skip: bin ? `no mediasoup worker binary: MEDIASOUP_WORKER_BIN=${bin} is not an executable file` : NO_MEDIASOUP_WORKER };
    }
    return { name, skip: false };
  });
}

/** This machine's entry for one engine (see `testEngines`). */
export function testEngine(name: EngineKind): EngineUnderTest {
  return testEngines().find((e) => e.name === name)!;
}

/**
 * `describe(title, body)`, or, with a skip reason, one skipped test titled `title` that
 * carries the reason. Not a skipped `describe`: node's runner leaves a skipped suite out of
 * the summary's `skipped` count (its tests are never declared), so the run would look complete.
 */
export function describeUnlessSkipped(title: string, skip: string | false | undefined, body: () => void): void {
  if (skip) test(title, { skip }, () => {});
  else describe(title, body);
}

export interface DescribeEnginesOptions {
  /** Skip every engine's suite, for a reason unrelated to the engine (a missing tool). */
  skip?: string | false;
  /** Only these engines (a suite about one engine's behaviour). Default: all. */
  engines?: readonly EngineKind[];
}

/**
 * Declares `suite` once per engine, titled `title [engine]`; an engine that cannot run here
 * is one skipped test with that title and the reason. The suite gets the engine's name to
 * pass on (`startService(env, { engine })`, `usePlayerRoom({ engine })`).
 */
export function describeEngines(title: string, suite: (engine: EngineKind) => void, options: DescribeEnginesOptions = {}): void {
  for (const { name, skip } of testEngines()) {
    if (options.engines && !options.engines.includes(name)) continue;
    describeUnlessSkipped(`${title} [${name}]`, options.skip || skip, () => suite(name));
  }
}
