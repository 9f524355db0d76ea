/** joi schemas of the `ollamaKey` and `ollamaHosts` options, shared by the router and the uploader. */
import Joi from 'joi'
import { OLLAMA_HOST_PATTERN } from './hosts.js'

/** A path to the key file or its text: a non-empty string. */
export const ollamaKeySchema = Joi.string().min(1).messages({
  'string.base': '{{#label}} must be a path to an OpenSSH ed25519 private key file, or the file\'s text',
  'string.empty': '{{#label}} must not be empty',
})

/** `host`, `host:port`, `*.domain[:port]`; an empty list turns the signed-key auth off. */
export const ollamaHostsSchema = Joi.array()
  .items(
    Joi.string().pattern(OLLAMA_HOST_PATTERN).messages({
      'string.pattern.base': '{{#label}} must be a host such as "ollama.com", "registry.example.com:5000" or "*.example.com"',
    }),
  )
  .messages({ 'array.base': '{{#label}} must be an array of hosts' })
