// Runs the whole test suite with node's test runner inside a fresh network namespace where
// only loopback is up: Chromium then has no other address to prefer over 127.0.0.1, and no
// test traffic can leave the machine. Needs root (CI and dev machines here are) or
// unprivileged user namespaces (`unshare -rn`).
//
// Usage: node scripts/test.mjs [files or globs…]   (default: every test/**/*.test.ts)
import { spawnSync } from 'node:child_process';

const files = process.argv.slice(2);
const patterns = files.length ? files : ['test/**/*.test.ts'];
const node = process.execPath;
const quoted = patterns.map((p) => `'${p.replace(/'/g, "'\\''")}'`).join(' ');
const concurrency = process.env.TEST_CONCURRENCY ?? '1';
const inner = `ip link set lo up && exec '${node}' --test --test-reporter=spec --test-concurrency=${concurrency} --test-timeout=300000 ${quoted}`;

const asRoot = process.getuid?.() === 0;
const args = asRoot ? ['-n', 'sh', '-c', inner] : ['-rn', 'sh', '-c', inner];
const result = spawnSync('unshare', args, { stdio: 'inherit', env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' } });
if (result.error) {
  console.error(`cannot create a network namespace: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
