import { loadConfig, type Config } from '../../services/core/config.ts';

/**
 * Config for the whole server started in-process (`startServer`) by a test: a free port, test
 * secrets, the engine on the main thread, warnings only; `env` adds or overrides keys.
 */
export function inProcessConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    PORT: '0',
    API_KEY: 'k'.repeat(20),
    JWT_SECRET: 's'.repeat(40),
    ENGINE_WORKER_THREAD: 'false',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...env,
  });
}
