/**
 * Learning-rate schedules: pure `(step) => value` functions with a serializable spec.
 * @module
 */
export {
  asSchedule,
  constant,
  cosine,
  isSchedule,
  join,
  linear,
  linearWarmup,
  scheduleFromSpec,
  warmupCosine,
  wsd,
} from './schedule.js';
export type {
  CosineOptions,
  LearningRate,
  LinearOptions,
  LinearWarmupOptions,
  Schedule,
  ScheduleSpec,
  WarmupCosineOptions,
  WsdCooldown,
  WsdOptions,
} from './schedule.js';
