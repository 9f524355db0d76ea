import Joi from 'joi'
import { InvalidNameError, InvalidRequestError } from '../errors.js'
import { parseModelName } from '../model/name.js'
import type { ModelName } from '../model/types.js'

/** One entry of `messages`: Ollama's `api.Message` fields that a stored conversation keeps. */
export interface CreateMessage {
  role: string
  content: string
  thinking?: string
  images?: string[]
  tool_name?: string
  tool_call_id?: string
}

/** The body of `POST /api/create`, as Ollama defines it (`api.CreateRequest`). */
export interface CreateRequestBody {
  model?: string
  /** Older name of `model`. */
  name?: string
  /** Stream progress lines (default true). */
  stream?: boolean
  /** A local model to build on. Never pulled: an unknown one is a 404. */
  from?: string
  /** File name → digest (`sha256:<hex>` or `sha256-<hex>`) of uploaded GGUF blobs. */
  files?: Record<string, string>
  /** File name → digest of one GGUF LoRA adapter. */
  adapters?: Record<string, string>
  template?: string
  system?: string
  license?: string | string[]
  parameters?: Record<string, unknown>
  messages?: CreateMessage[]
  /** Refused: this package does not run llama.cpp. */
  quantize?: string
  /** Older name of `quantize`; refused too. */
  quantization?: string
}

/** A validated create request: names parsed, digests normalised to `sha256:<lowercase hex>`. */
export interface CreateRequest {
  name: ModelName
  stream: boolean
  from: ModelName | undefined
  /** Sorted by file name, as Ollama orders model layers. */
  files: Array<{ file: string; digest: string }>
  adapters: Array<{ file: string; digest: string }>
  template: string
  system: string
  licenses: string[]
  parameters: Record<string, unknown>
  messages: CreateMessage[]
}

/** The digest forms Ollama's blob routes accept (`manifest.BlobsPath`). */
const DIGEST = /^sha256[:-]([0-9a-fA-F]{64})$/

const parameterValue = Joi.alternatives().try(Joi.string().allow(''), Joi.number(), Joi.boolean(), Joi.array().items(Joi.string().allow(''), Joi.number(), Joi.boolean()))
const fileMap = Joi.object().pattern(Joi.string().allow(''), Joi.string().allow(''))

// As in Ollama (Go's encoding/json), unknown fields are ignored; known ones must have the right type.
const schema = Joi.object<CreateRequestBody>({
  model: Joi.string().allow(''),
  name: Joi.string().allow(''),
  stream: Joi.boolean(),
  from: Joi.string().allow(''),
  files: fileMap,
  adapters: fileMap,
  template: Joi.string().allow(''),
  system: Joi.string().allow(''),
  license: Joi.alternatives().try(Joi.string().allow(''), Joi.array().items(Joi.string().allow(''))),
  parameters: Joi.object().pattern(Joi.string(), parameterValue),
  messages: Joi.array().items(
    Joi.object({
      role: Joi.string().required(),
      content: Joi.string().allow('').required(),
      thinking: Joi.string().allow(''),
      images: Joi.array().items(Joi.string()),
      tool_name: Joi.string().allow(''),
      tool_call_id: Joi.string().allow(''),
    }).unknown(true),
  ),
  quantize: Joi.string().allow(''),
  quantization: Joi.string().allow(''),
}).unknown(true)

/**
 * Check a parsed `/api/create` body and normalise it. Everything here is a 400 with Ollama's wording
 * where Ollama has one (`file path must be relative`, `invalid digest format`, `neither 'from' or
 * 'files' was specified`, `only one adapter is currently supported`).
 */
export function validateCreateBody(body: unknown, defaultRegistry: string): CreateRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('request body must be a JSON object')
  const { error, value } = schema.validate(body, { abortEarly: false, convert: false, errors: { wrap: { label: false } } })
  if (error) throw new InvalidRequestError(error.details.map((d) => d.message).join('; '))
  const quantize = value.quantize || value.quantization
  if (quantize) {
    throw new InvalidRequestError(`quantize is not supported: this server does not run llama.cpp; quantize the GGUF file to ${quantize} before uploading it`)
  }
  const model = value.model || value.name
  if (!model) throw new InvalidRequestError('model is required')
  const name = parseName(model, defaultRegistry)
  const files = fileList(value.files)
  const adapters = fileList(value.adapters)
  if (adapters.length > 1) throw new InvalidRequestError('only one adapter is currently supported')
  if (!value.from && files.length === 0) throw new InvalidRequestError("neither 'from' or 'files' was specified")
  // Ollama silently ignores `files` when `from` is given; saying so is kinder than dropping them.
  if (value.from && files.length > 0) throw new InvalidRequestError("give either 'from' or 'files', not both")
  const license = value.license
  return {
    name,
    stream: value.stream ?? true,
    from: value.from ? parseName(value.from, defaultRegistry) : undefined,
    files,
    adapters,
    template: value.template ?? '',
    system: value.system ?? '',
    // A single empty string adds nothing; in a list every entry becomes a layer (Ollama's rule).
    licenses: license === undefined || license === '' ? [] : typeof license === 'string' ? [license] : license,
    parameters: value.parameters ?? {},
    messages: value.messages ?? [],
  }
}

/** A name from a request body: Ollama's rules, and an `invalid model name: …` message when broken. */
export function parseName(input: string, defaultRegistry: string): ModelName {
  try {
    return parseModelName(input, { defaultRegistry })
  } catch (error) {
    if (error instanceof InvalidNameError) throw new InvalidNameError(error.part, `invalid model name: ${error.message}`)
    throw error
  }
}

function fileList(map: Record<string, string> | undefined): Array<{ file: string; digest: string }> {
  const entries = Object.entries(map ?? {})
  for (const [file] of entries) {
    if (!isRelativePath(file)) throw new InvalidRequestError('file path must be relative')
  }
  return entries
    .map(([file, digest]) => {
      const match = DIGEST.exec(digest)
      if (!match) throw new InvalidRequestError('invalid digest format')
      return { file, digest: `sha256:${match[1]!.toLowerCase()}` }
    })
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
}

/**
 * Go's `fs.ValidPath`: slash-separated, no empty, `.` or `..` element, not absolute. Backslashes and
 * NUL are refused too (they are path separators or terminators somewhere).
 */
export function isRelativePath(file: string): boolean {
  if (file === '' || file.includes('\\') || file.includes('\0')) return false
  return file.split('/').every((part) => part !== '' && part !== '.' && part !== '..')
}
