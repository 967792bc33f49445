/**
 * Parameter routing for tfjs-layers models: which 2-D+ weights must not go to Muon.
 *
 * KellerJordan/Muon's README: Muon is for hidden matrices; "use Muon to optimize all the convolutional
 * filters except the first one, and AdamW to optimize everything else" — embeddings and the output
 * (classifier / LM head) layer included. microsoft/dion's README adds that checking the number of
 * dimensions is not enough: embedding and unembedding look like matrices.
 *
 * Duck-typed on purpose (`getClassName()`, `layers`, `trainableWeights`): importing tfjs-layers here
 * would make it a hard dependency of the whole package.
 * @module
 */

/** The parts of a tfjs-layers `Layer` this module reads. */
export interface LayerLike {
  readonly name: string;
  getClassName(): string;
  /** A LayerVariable's `name` is the name of the `tf.Variable` it holds (what the optimizer sees). */
  readonly trainableWeights: readonly { readonly name: string }[];
  /** Present on nested models. */
  readonly layers?: readonly LayerLike[];
}

/** The parts of a tfjs-layers `LayersModel` this module reads. */
export interface LayersModelLike {
  readonly layers: readonly LayerLike[];
  readonly outputLayers?: readonly LayerLike[];
}

const CONV = /^(Conv1D|Conv2D|Conv3D|SeparableConv2D|DepthwiseConv2D|Conv2DTranspose|Conv3DTranspose)$/;
const EMBEDDING = /^Embedding$/;

function flatLayers(layers: readonly LayerLike[]): LayerLike[] {
  return layers.flatMap((l) => (l.layers !== undefined ? flatLayers(l.layers) : [l]));
}

function variableNames(layer: LayerLike): string[] {
  return layer.trainableWeights.map((w) => w.name);
}

/**
 * Names of the variables that should be trained by AdamW rather than Muon in a tfjs-layers model:
 * every `Embedding` layer's weights, the first convolution layer's weights, and the output layer(s)'
 * weights. Pass them as `exclude`:
 *
 * @example
 * model.compile({ optimizer: muon({ exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 *
 * The names are matched as substrings, so they keep matching after a same-process reload renames
 * `kernel` to `kernel_1`.
 */
export function adamwParamNames(model: LayersModelLike): string[] {
  const layers = flatLayers(model.layers);
  const names = new Set<string>();
  for (const l of layers) if (EMBEDDING.test(l.getClassName())) variableNames(l).forEach((n) => names.add(n));
  const firstConv = layers.find((l) => CONV.test(l.getClassName()) && l.trainableWeights.length > 0);
  if (firstConv) variableNames(firstConv).forEach((n) => names.add(n));
  const lastWeighted = (ls: readonly LayerLike[]) => flatLayers(ls).filter((l) => l.trainableWeights.length > 0).slice(-1);
  // A Sequential model reports no outputLayers of its own: its last weighted layer is the output.
  const outputs =
    model.outputLayers && model.outputLayers.length > 0
      ? model.outputLayers.flatMap((l) => lastWeighted([l]))
      : lastWeighted(model.layers);
  for (const l of outputs) variableNames(l).forEach((n) => names.add(n));
  return [...names];
}
