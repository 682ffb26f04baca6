/**
 * `logger` creates Portico's structured logger (pino, one JSON line per event).
 */
import { type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger };

export interface LoggerSettings {
  readonly level?: string;
  /** A destination file descriptor or path; stdout by default. */
  readonly destination?: number | string;
}

/** `createLogger` returns the root logger; bind `{ kind, namespace, name }` with `child` for object logs. */
export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? process.env['PORTICO_LOG_LEVEL'] ?? 'info',
    base: { app: 'portico' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return pino(options, pino.destination({ dest: settings.destination ?? 1, sync: false }));
}

/** `silentLogger` is for tests and tools that must print nothing but their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
