export { createMetrics, ServiceMetrics, type MetricsOptions, type MetricsSources } from './ServiceMetrics.ts';
