import { pino, type Logger } from 'pino';

/**
 * Structured JSON logs on stdout. `LOG_LEVEL` sets the level (default `info`; tests usually
 * run with `warn`). Modules take a child logger: `logger.child({ mod: 'engine' })`.
 */
export const logger: Logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: undefined,
  timestamp: pino.stdTimeFunctions.isoTime,
  redact: { paths: ['token', '*.token', 'authorization', '*.authorization', 'apiKey', 'jwtSecret'], remove: true },
});

export type { Logger };
