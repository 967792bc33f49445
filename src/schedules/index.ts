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
  scheduleRange,
  warmupCosine,
  wsd,
} from './schedule.js';
export type {
  CosineOptions,
  LearningRate,
  LearningRateBound,
  LinearOptions,
  LinearWarmupOptions,
  Schedule,
  ScheduleSpec,
  WarmupCosineOptions,
  WsdCooldown,
  WsdOptions,
} from './schedule.js';
