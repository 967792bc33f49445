/**
 * orthoptim — Muon and the orthogonalized-update optimizers for TensorFlow.js.
 *
 * Importing this module registers every optimizer with `tf.serialization` (so `tf.loadLayersModel` can
 * rebuild one from a saved model).
 * @packageDocumentation
 */
import './tfjs/register.js';
export {
  identity,
  stateless,
  chain,
  partition,
  resolveLabels,
  type GradientTransformation,
  type ParamMeta,
  type ParamLabels,
  type StateTree,
  type StepContext,
  type UpdateResult,
  LossRequiredError,
  reducedGradients,
  type DataParallelGroup,
} from './core/transform.js';
export * from './schedules/index.js';
export {
  coefficientTable,
  coefficientsAt,
  coefficientPresets,
  withSafety,
  coefficientStability,
  rootCoefficientTable,
  setStabilityWarningHandler,
  type Preconditioning,
  type RowStability,
  type TableStability,
  type CoefficientPreset,
  type CoefficientTable,
  type CoefficientsOption,
  type QuinticCoefficients,
} from './linalg/coefficients.js';
export {
  newtonSchulz,
  newtonSchulzWide,
  newtonSchulzTall,
  newtonSchulzAll,
  newtonSchulzGramTall,
  type NewtonSchulzForm,
  resolveNewtonSchulz,
  gram,
  type NewtonSchulzOptions,
  type ResolvedNewtonSchulz,
} from './linalg/newtonSchulz.js';
export {
  orthogonalityError,
  orthogonalityReport,
  matrixDiagnostics,
  updateDiagnostics,
  type OrthogonalityReport,
  type DiagnosticsMethod,
  type MatrixDiagnosticsOptions,
  type MatrixDiagnostics,
} from './linalg/diagnostics.js';
export { emaMomentum, trace } from './transforms/momentum.js';
export { scaleByAdam, type ScaleByAdamOptions } from './transforms/adam.js';
export { addDecayedWeights } from './transforms/decay.js';
export { scaleByLearningRate, scale, adaGradNormStep, type AdaGradNormStepOptions } from './transforms/stepsize.js';
export { coshBrake, coshRms, frobeniusNorm, normalizeByFrobenius, orthogonalizeOrPass, type CoshBrakeOptions, type ConvMatrix } from './transforms/auon.js';
export { clipByGlobalNorm } from './transforms/clip.js';
export { orthogonalize, scaleByShape, shapeScale, type ShapeRule, type ConvScale } from './transforms/orthogonalize.js';
export type {
  CommonOptions,
  ResolvedCommon,
  ConfigValue,
  NonFinitePolicy,
  NamePattern,
  OptimizerConfig,
  OptimizerDefinition,
} from './optimizers/definition.js';
export {
  recipe,
  recipeTransform,
  learningRate as learningRateOption,
  newtonSchulzOptions,
  convScale as convScaleOption,
  type Recipe,
  type RecipeSpec,
  type RecipeCoefficients,
  type ConvScaleChoice,
  type Inherited,
} from './optimizers/definition.js';
export {
  option,
  number,
  unit,
  positive,
  nonNegative,
  integer,
  nullableNumber,
  boolean,
  choice,
  derived,
  resolveSchema,
  encodeSchema,
  decodeSchema,
  schemaKeys,
  type Option,
  type Derived,
  type Default,
  type Schema,
  type OptionsOf,
  type ResolvedOf,
  type ResolveContext,
} from './core/schema.js';
export type { Interval } from './core/options.js';
export { sgdDefinition, sgdTransform, type SgdOptions, type ResolvedSgd } from './optimizers/sgd.js';
export { adamDefinition, adamwDefinition, adamTransform, adamwTransform, type AdamOptions, type ResolvedAdam } from './optimizers/adam.js';
export { muonDefinition, muonTransform, muonMatrixChain, type MuonOptions, type ResolvedMuon, type MuonMatrixSettings } from './optimizers/muon.js';
export {
  auxiliaryOptions,
  routeOf,
  routeMatrices,
  auxiliaryAdamw,
  type AuxiliaryOptions,
  type AuxiliaryDefaults,
  type ResolvedAuxiliary,
  type ParamRoute,
} from './optimizers/auxiliary.js';
export {
  TransformOptimizer,
  isTransformOptimizer,
  NonFiniteGradientError,
  NonFiniteLossError,
  type StateBytesReport,
  type ParameterStateBytes,
  type SlotBytes,
  type NamedTensor,
  type StateSlot,
  type StagedStateInfo,
} from './tfjs/optimizer.js';
export { adamwParamNames, type LayersModelLike, type LayerLike } from './tfjs/layers.js';
export {
  serializeCheckpoint,
  restoreCheckpoint,
  validateCheckpointManifest,
  CheckpointError,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  CHECKPOINT_VERSIONS_READ,
  type CheckpointManifest,
  type CheckpointSlot,
  type RestoreReport,
  type CheckpointOptions,
  type CheckpointSurgery,
} from './tfjs/checkpoint.js';
export { transformOptimizer, defineTransformOptimizer, type ChainSource, type TransformOptimizerOptions } from './tfjs/custom.js';
export { defineOptimizer, createOptimizer, optimizerFromConfig, listOptimizers, type OptimizerFactory, type OptimizerInfo } from './tfjs/registry.js';
export {
  sgd,
  adam,
  adamw,
  muon,
  adaGO,
  auon,
  hybridAuon,
  turboMuon,
  norMuon,
  adaMuon,
  root,
  asgo,
  orthogonalSgdm,
  scion,
  normalizedSgd,
  signum,
  dion,
  dion2,
  dog,
  ldog,
  dowg,
  alrSmag,
  polyakSgd,
  psgdKron,
  galore,
  onlineSubspaceDescent,
  dctAdamw,
  subsetNorm,
  subspaceMomentum,
  scheduleFreeSgd,
  scheduleFreeAdamw,
  lookaheadOptimizer,
  accumulateOptimizer,
  cautiousOptimizer,
  averagedOptimizer,
} from './tfjs/register.js';
export { adaGODefinition, adaGOTransform, type AdaGOOptions, type ResolvedAdaGO } from './optimizers/adaGO.js';
export { auonDefinition, hybridAuonDefinition, auonTransform, hybridAuonTransform, type AuonOptions, type HybridAuonOptions, type AuonForm, type ResolvedAuon, type ResolvedHybridAuon } from './optimizers/auon.js';
export { aolPrecondition, aolPreconditionTall } from './linalg/aol.js';
export { turboMuonDefinition, turboMuonTransform, type TurboMuonOptions, type ResolvedTurboMuon, type TurboMuonVariant } from './optimizers/turboMuon.js';
export {
  scaleByNeuronSecondMoment,
  scaleByElementSecondMoment,
  rmsRescale,
  scaleBySign,
  exactSign,
  type NeuronStatistics,
  type ConvLayout,
  type ScaleByNeuronSecondMomentOptions,
  type ScaleByElementSecondMomentOptions,
  type RmsRescaleOptions,
} from './transforms/normalize.js';
export { norMuonDefinition, norMuonTransform, norMuonMatrixChain, type NorMuonOptions, type NorMuonRescale, type ResolvedNorMuon } from './optimizers/norMuon.js';
export { adaMuonDefinition, adaMuonTransform, adaMuonMatrixChain, type AdaMuonOptions, type ResolvedAdaMuon } from './optimizers/adaMuon.js';
export { rootDefinition, rootTransform, type RootOptions, type ResolvedRoot, type RootCoefficients, type EpsilonPlacement } from './optimizers/root.js';
export { asgoDefinition, asgoTransform, type AsgoOptions, type ResolvedAsgo } from './optimizers/asgo.js';
export { orthogonalSgdmDefinition, orthogonalSgdmTransform, type OrthogonalSgdmOptions, type ResolvedOrthogonalSgdm } from './optimizers/orthogonalSgdm.js';
export {
  absQuantile,
  clipAtQuantile,
  scaleByAdamUncorrectedEpsilon,
  type ClipAtQuantileOptions,
  type ScaleByAdamUncorrectedEpsilonOptions,
} from './transforms/root.js';
export { oneSidedPrecondition, scaleToRms, type OneSidedPreconditionOptions, type PreconditionSide } from './transforms/precondition.js';
export { inverseSquareRoot, resolveInverseSquareRoot, type InverseSquareRootOptions, type ResolvedInverseSquareRoot } from './linalg/inverseRoot.js';
export {
  lmo,
  lmoAuto,
  lmoSpectral,
  lmoSpectralConv,
  lmoColNorm,
  lmoRowNorm,
  lmoSign,
  lmoBiasRms,
  lmoFrobenius,
  lmoDirection,
  lmoStep,
  autoNorm,
  lmoMatrixShape,
  spectralScale,
  spectralConvScale,
  lmoNorms,
  lmoChoices,
  normalizableNorms,
  LMO_EPSILON,
  type LmoNorm,
  type LmoChoice,
  type LmoSettings,
  type SpectralLmoOptions,
} from './transforms/lmo.js';
export {
  scionDefinition,
  scionTransform,
  scionSettings,
  normalizedSgdDefinition,
  normalizedSgdTransform,
  signumDefinition,
  signumTransform,
  type ScionOptions,
  type ResolvedScion,
  type ScionLayer,
  type ScionGroup,
  type ResolvedScionLayer,
  type ResolvedScionGroup,
  type ScionNormFor,
  type SingleNormLmoOptions,
  type ResolvedSingleNormLmo,
} from './optimizers/scion.js';
export {
  dogDefinition,
  ldogDefinition,
  dowgDefinition,
  dogTransform,
  ldogTransform,
  dowgTransform,
  type DogOptions,
  type ResolvedDog,
  type DowgOptions,
  type ResolvedDowg,
} from './optimizers/dog.js';
export {
  scaleByDistanceOverGradients,
  scaleByDowg,
  type DistanceOverGradientsOptions,
  type DowgOptions as ScaleByDowgOptions,
} from './transforms/dog.js';
export {
  alrSmagDefinition,
  polyakSgdDefinition,
  alrSmagTransform,
  polyakSgdTransform,
  type AlrSmagOptions,
  type ResolvedAlrSmag,
  type PolyakSgdOptions,
  type ResolvedPolyakSgd,
} from './optimizers/polyak.js';
export {
  polyakStepSize,
  polyakMomentumStepSize,
  stepLoss,
  type PolyakStepSizeOptions,
  type PolyakMomentumStepSizeOptions,
} from './transforms/polyak.js';
export { psgdKronDefinition, psgdKronTransform, type PsgdKronOptions, type ResolvedPsgdKron, type PsgdDefaults } from './optimizers/psgdKron.js';
export {
  scaleByPsgdKron,
  annealedUpdateProbability,
  type PsgdKronOptions as ScaleByPsgdKronOptions,
  type PsgdUpdateSchedule,
} from './transforms/psgd.js';
export {
  kronLayout,
  normLowerBound,
  normLowerBoundSpd,
  normLowerBoundSkew,
  procrustesStep,
  type KronLayout,
  type KronFactorKind,
} from './linalg/psgd.js';
export { cautious, addCautiousDecayedWeights, type CautiousOptions } from './transforms/cautious.js';
export {
  lookahead,
  accumulate,
  averageIterates,
  polynomialDecayWeight,
  debiasedEmaWeight,
  type LookaheadOptions,
  type AccumulateOptions,
  type AverageWeight,
} from './transforms/wrappers.js';
export { scheduleFree, type ScheduleFreeOptions } from './transforms/scheduleFree.js';
export {
  scheduleFreeSgdDefinition,
  scheduleFreeAdamwDefinition,
  scheduleFreeSgdTransform,
  scheduleFreeAdamwTransform,
  type ScheduleFreeSgdOptions,
  type ScheduleFreeAdamwOptions,
  type ResolvedScheduleFreeSgd,
  type ResolvedScheduleFreeAdamw,
} from './optimizers/scheduleFree.js';
export {
  lookaheadDefinition,
  accumulateDefinition,
  cautiousDefinition,
  averagedDefinition,
  wrapperRecipe,
  resolveInner,
  type DefinitionLookup,
  type InnerOptimizer,
  type ResolvedInner,
  type WrapperSpec,
  type WrapperSchema,
  type WrapperDefinition,
} from './optimizers/wrappers.js';
export { withAveragedWeights, swapInAveragedWeights, hasAveragedWeights } from './tfjs/averaging.js';
export {
  dionDefinition,
  dion2Definition,
  dionTransform,
  dion2Transform,
  type DionOptions,
  type ResolvedDion,
  type Dion2Options,
  type ResolvedDion2,
  type DionScalarOptions,
  type ResolvedDionScalars,
} from './optimizers/dion.js';
export {
  scaleByDion,
  scaleByDion2,
  scaleByLion,
  dionStep,
  dionStepSharded,
  dionLayout,
  dionRank,
  type ScaleByDionOptions,
  type ScaleByDion2Options,
  type DionStepOptions,
  type DionStepResult,
  type DionShardedOptions,
  type DionSharding,
  type DionOrientation,
  type DionSide,
  type DionLayout,
  type DionRankOptions,
  type Dion2Selection,
  type DionInitialQ,
  dionStepsDataParallel,
  dionCompressesAllReduce,
} from './transforms/dion.js';
export {
  orthonormalizeColumns,
  orthonormalizeColumnsSharded,
  qrMethods,
  type QrMethod,
} from './linalg/qr.js';
export { inProcessCollective, shardSizes, splitShards, type Collective } from './linalg/collective.js';
export {
  singleRankCommunicator,
  shardGroup,
  CommunicatorError,
  CommunicatorTimeoutError,
  HASH_LENGTH,
  reduceOps,
  type Communicator,
  type ShardGroup,
  type ReduceOp,
  countingCommunicator,
  type CountingCommunicator,
  type CommunicatorTraffic,
  type CollectiveName,
} from './linalg/communicator.js';
export {
  distributed,
  DistributedOptimizer,
  DistributedMismatchError,
  gradientBuckets,
  DEFAULT_BUCKET_BYTES,
  parameterCost,
  shardAssignment,
  ShardedStateError,
  SHARD_MANIFEST_NAME,
  type DistributedOptions,
  type DistributedMismatch,
} from './tfjs/distributed.js';
export {
  registerEngine,
  setDefaultEngine,
  defaultEngine,
  listEngines,
  resolveEngine,
  disposeEngines,
  describeEngine,
  type EngineName,
  type EngineChoice,
  type EngineMatrix,
  type EngineIteration,
  type NewtonSchulzEngine,
  type EngineProvider,
} from './engines/engine.js';
export {
  registerWasmConvKernels,
  wasmConvKernelConfig,
  wasmConvKernelNames,
  type RegisterWasmConvOptions,
  type WasmConvKernelName,
} from './tfjs/wasmConv.js';
export {
  orthogonalInit,
  deltaOrthogonalInit,
  gaussianInit,
  glorotUniformInit,
  heNormalInit,
  fans,
  type OrthogonalInitOptions,
  type GaussianInitOptions,
  type ScaledInitOptions,
} from './nn/init.js';
export {
  softOrthogonality,
  groupOrthogonality,
  lorth,
  lambdaOrthogonality,
  orthogonalityDefects,
  type GroupOrthogonalityOptions,
  type LorthOptions,
  type LambdaOrthogonalityOptions,
  type OrthogonalityDefect,
} from './nn/regularizers.js';
export {
  OrthogonalityRegularizer,
  SoftOrthogonalityRegularizer,
  GroupOrthogonalityRegularizer,
  LorthRegularizer,
  LambdaOrthogonalityRegularizer,
  softOrthogonalityRegularizer,
  groupOrthogonalityRegularizer,
  lorthRegularizer,
  lambdaOrthogonalityRegularizer,
  type RegularizerWeight,
  type SoftOrthogonalityRegularizerOptions,
  type GroupOrthogonalityRegularizerOptions,
  type LorthRegularizerOptions,
  type LambdaOrthogonalityRegularizerOptions,
} from './tfjs/regularizers.js';
export {
  galoreDefinition,
  onlineSubspaceDescentDefinition,
  galoreTransform,
  onlineSubspaceDescentTransform,
  projectorLearningRate,
  type GaloreOptions,
  type ResolvedGalore,
  type OnlineSubspaceDescentOptions,
  type ResolvedOnlineSubspaceDescent,
} from './optimizers/subspace.js';
export {
  scaleBySubspaceAdam,
  scaleByAdamTransformersForm,
  subspaceLayout,
  projectToSubspace,
  projectFromSubspace,
  onlinePcaLoss,
  onlinePcaGradient,
  type ScaleBySubspaceAdamOptions,
  type SubspaceLayout,
  type SubspaceSide,
  type ProjectorUpdate,
  type InitialProjector,
} from './transforms/subspace.js';
export { rangeFinder, RANGE_FINDER_DEFAULTS, type RangeFinderOptions } from './linalg/rangeFinder.js';
export {
  orthogonalityProbe,
  orthogonalityMonitor,
  OrthogonalityProbe,
  type OrthogonalityRecord,
  type OrthogonalityProbeOptions,
  type OrthogonalityMonitor,
  type OrthogonalityMonitorOptions,
  type WatchedWeight,
  type MonitoredModel,
} from './tfjs/orthogonalityMonitor.js';
export {
  upgrad,
  dualProj,
  mean as meanAggregator,
  type Aggregator,
  type Aggregation,
  type DualConeAggregatorOptions,
  type JacobianInput,
} from './transforms/aggregators.js';
export { projectWeights, DualConeProjectionError } from './linalg/dualCone.js';
export {
  jacobianDescent,
  modelJacobianDescent,
  EmptyObjectivesError,
  NonScalarLossError,
  ObjectiveVariablesMismatchError,
  type JacobianDescentOptions,
  type JacobianDescentResult,
  type ModelJacobianDescentOptions,
  type PerExampleLoss,
  type Objectives,
} from './tfjs/jacobianDescent.js';
export { bloop, odice, GradientSurgery, type BloopOptions, type OdiceOptions, type SurgeryVariant, type SurgeryStepResult } from './tfjs/bloop.js';
export { bloopDirection, pcgradDirection, mixedDirection, projectOut, updateEma, globalDot, GradientEma } from './transforms/surgery.js';
export { dctAdamwDefinition, dctAdamwTransform, type DctAdamwOptions, type ResolvedDctAdamw } from './optimizers/dct.js';
export { scaleByDctAdam, dctLayout, type ScaleByDctAdamOptions, type DctLayout } from './transforms/dct.js';
export {
  dctBasis,
  clearDctCache,
  cachedDctSizes,
  selectDctColumns,
  projectDct,
  backprojectDct,
  dctRotation,
  type DctSide,
  type DctSelection,
} from './linalg/dct.js';
export {
  subsetNormDefinition,
  subspaceMomentumDefinition,
  subsetNormTransform,
  subspaceMomentumTransform,
  type SubsetNormOptions,
  type SubspaceMomentumOptions,
} from './optimizers/subsetNorm.js';
export {
  scaleBySubsetNorm,
  subspaceEmaMomentum,
  subsetNormLayout,
  addDecayAfterStep,
  type SubsetSize,
  type SubspaceProjection,
  type MomentumReset,
} from './transforms/subsetNorm.js';
export {
  hraKernel,
  hraReflect,
  hraVectors,
  hraOrthogonality,
  hraInitialVectors,
  hraParameterCount,
  resolveHra,
  skewSymmetric,
  cayleyNeumann,
  oftRotation,
  oftKernel,
  oftRotate,
  oftBlocks,
  oftParameterCount,
  oftInitialParameters,
  resolveOft,
  adapterKernelShape,
  convKernelRows,
  convKernelFromRows,
  type HraOptions,
  type ResolvedHra,
  type HraInit,
  type OftOptions,
  type ResolvedOft,
  type OftInit,
} from './nn/adapters.js';
