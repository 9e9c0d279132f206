// Package episode reads few-shot image datasets, turns images into float32
// tensors and samples training and evaluation episodes (tasks) from them.
//
// The flow is:
//
//  1. Open a dataset listing with [Load] (or [OpenDir], [OpenZip],
//     [OpenOmniglot], [OpenMiniImageNet], [OpenTiered]). Listing reads folder
//     and zip directories only; archives are read in place, never unpacked.
//  2. Decode it into memory with [Decode], which applies a [Preprocess]
//     (decode, colour conversion, resize) to every image in parallel and keeps
//     the result in a zstd-compressed cache on disk, so a second run starts in
//     seconds.
//  3. Draw tasks with a [Sampler] (training; seeded, optionally augmented) or
//     [Decoded.Episode] (a fixed evaluation list), optionally through
//     [Prefetch] so that task assembly overlaps with compute.
//
// # Tensor conventions
//
// Images are CHW float32 (channel, row, column), batches are NCHW. Pixel
// values start in [0, 1] (0 = black); [Preprocess.Invert] maps x to 1-x, and
// Mean/Std then normalise each channel as (x-mean)/std. For Omniglot, whose
// PNGs have black strokes on a white background, [OmniglotPreprocess] inverts,
// so strokes are 1 and the background is 0, the usual few-shot convention.
//
// A [Preprocess] value is the complete description of the inference-time
// transform: it serialises to JSON ([Preprocess.String], [ParsePreprocess])
// so that a model can carry it, and [Preprocess.Image] is the same code path
// that [Decode] and the samplers use.
//
// # Determinism
//
// Samplers use math/rand/v2's PCG generator seeded explicitly; a given
// dataset, configuration and seed always yields the same tasks, and
// evaluation episode i depends only on (seed, i).
package episode
