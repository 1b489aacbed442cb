// The public face of src/telemetry.
export {
  createLogger,
  lineWriter,
  linesWritten,
  LOG_LEVELS,
  REDACTED_PATHS,
  type LineLevel,
  type LineValue,
  type LineWriter,
  type Logger,
  type LoggerSettings,
} from './logger.ts';
export {
  createMetrics,
  counterValue,
  ADMISSION_DECISIONS,
  DURATION_BUCKETS,
  REGISTRY_LABEL_LIMIT,
  type AdmissionDecision,
  type Metrics,
  type MetricsOptions,
  type RegistryExchange,
} from './metrics.ts';
