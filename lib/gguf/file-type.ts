/**
 * Names of GGUF file types (`general.file_type`, llama.cpp's `llama_ftype`) as Ollama prints them
 * (`fs/ggml/type.go` `FileType.String`). Values llama.cpp retired (4–6, 33–35), values past the
 * table and 0 (Ollama reads 0 as "not set") are `unknown`.
 */
const NAMES: Readonly<Record<number, string>> = Object.freeze({
  1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K_S', 12: 'Q3_K_M',
  13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS',
  21: 'Q2_K_S', 22: 'IQ3_XS', 23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL', 26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S',
  29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16', 36: 'TQ1_0', 37: 'TQ2_0', 38: 'MXFP4_MOE', 39: 'NVFP4', 40: 'Q1_0',
})

/** The name of a `general.file_type` value; anything else (absent, 0, not an integer) is `unknown`. */
export function fileTypeName(value: unknown): string {
  const n = typeof value === 'bigint' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n)) return 'unknown'
  return NAMES[n] ?? 'unknown'
}
