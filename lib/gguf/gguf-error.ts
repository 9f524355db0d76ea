/**
 * A file that is not GGUF, or a GGUF file this reader cannot walk (truncated, garbage lengths,
 * unknown value types). Plain `Error`: the caller decides what it means (create answers it in-band).
 */
export class GgufError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'GgufError'
  }
}
