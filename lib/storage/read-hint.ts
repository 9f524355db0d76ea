/**
 * An internal hand-off between the shipped `FilesystemStorage` and `OciRegistryUploader`; not part
 * of any public contract. `pushModel` passes it through untouched: the uploader asks, through the
 * blob opener's hidden second argument, for a stream that ends at `end` (one part of the blob) and
 * may reuse its read buffers (it writes each chunk straight into a socket, honouring backpressure,
 * and keeps no reference). A storage that knows the symbol answers with a stream marked `BOUNDED`;
 * any other storage ignores it, and the uploader cuts the part off itself with fresh buffers.
 */
import type { Readable } from 'node:stream'

export const READ_HINT: unique symbol = Symbol('express-model-push.readHint')
export const BOUNDED: unique symbol = Symbol('express-model-push.bounded')

export interface ReadHint {
  /** Byte after the last one to read (exclusive). Default: the end of the blob. */
  readonly end?: number | undefined
  /** The consumer writes each chunk out honouring backpressure and keeps no reference to it. */
  readonly reuseBuffers?: boolean | undefined
  /**
   * With `reuseBuffers`: a ring the consumer keeps across the parts of one blob (empty at first;
   * the storage fills it), so a multi-part upload reads into the same few buffers throughout.
   */
  readonly ring?: Buffer[] | undefined
}

/** Options that may carry the hint. */
export interface HintedOptions {
  [READ_HINT]?: ReadHint | undefined
}

/** Mark `stream` as ending exactly at the hint's `end`. */
export function markBounded<T extends Readable>(stream: T): T {
  ;(stream as T & { [BOUNDED]?: true })[BOUNDED] = true
  return stream
}

export function isBounded(stream: Readable): boolean {
  return (stream as Readable & { [BOUNDED]?: true })[BOUNDED] === true
}
