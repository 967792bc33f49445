/**
 * Datasets for the benchmarks, as plain typed arrays (no TensorFlow.js backend needed): MNIST and
 * Fashion-MNIST, found on disk or downloaded on request with SHA-256 checks.
 * @module
 */
export { parseIdx, isGzip, idxLabelsMagic, idxImagesMagic, type IdxArray } from './idx.js';
export {
  DataChecksumError,
  balancedIndices,
  embeddedFashionSubsetDir,
  encodeIdx,
  fashionSubsetFiles,
  fashionSubsetSettings,
  gzipReproducible,
  makeFashionSubset,
  readIdxBytes,
  readPinnedIdx,
  sha256Hex,
  type MakeSubsetOptions,
  type PinnedIdxFile,
  type WrittenIdxFile,
} from './fashionSubset.js';
export {
  loadMnist,
  mnistClassNames,
  mnistImagePixels,
  mnistImageSide,
  type LoadMnistOptions,
  type MnistData,
  type MnistSplit,
} from './mnist.js';
export {
  DataNotFoundError,
  MnistNotFoundError,
  briefNotFound,
  datasetCacheDir,
  datasetInfo,
  debianFashionMnistDir,
  findIdxFile,
  locateDataset,
  mnistDatasets,
  mnistFileNames,
  requireDataset,
  searchDataset,
  type LocatedDataset,
  type MnistDataset,
  type MnistFileRole,
  type SearchedPlace,
} from './locate.js';
export { datasetSources, downloadDataset, type DatasetSource, type DownloadOptions, type SourceFile } from './download.js';
export {
  loadCifar10,
  parseCifar10Records,
  searchCifar10,
  cifar10NotFoundError,
  cifar10CacheDir,
  cifar10Layouts,
  cifar10ClassNames,
  cifar10Mean,
  cifar10Std,
  cifar10ImageSide,
  cifar10ImageSize,
  cifar10RecordBytes,
  type Cifar10Data,
  type Cifar10Split,
  type Cifar10Variant,
  type LoadCifar10Options,
} from './cifar10.js';
export {
  loadShakespeare,
  downloadShakespeare,
  searchShakespeare,
  shakespeareCacheDir,
  shakespeareSource,
  shakespeareDirName,
  textSplits,
  encodeChars,
  ShakespeareNotFoundError,
  type ShakespeareData,
  type LoadShakespeareOptions,
  type CharText,
  type TextSpan,
  type TextSplits,
} from './shakespeare.js';
