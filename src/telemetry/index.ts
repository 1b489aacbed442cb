// The public face of src/telemetry.
export { createLogger, REDACTED_PATHS, type Logger, type LoggerSettings } from './logger.ts';
export {
  createMetrics,
  counterValue,
  DURATION_BUCKETS,
  type Metrics,
  type MetricsOptions,
} from './metrics.ts';
