/**
 * skopeo as a reference pusher. skopeo refuses Ollama's media types, so the same blobs are pushed as
 * an OCI image from an `oci:` layout: the layers hardlinked from the Ollama store under
 * `application/vnd.oci.image.layer.v1.tar`, and Ollama's own config blob as the image config (it is
 * a valid OCI config: `architecture`, `os`, `rootfs.diff_ids` = the layer digests; the rest is
 * ignored). So skopeo uploads exactly the blobs our push uploads; only the manifest differs.
 *
 * Making sure it really uploads:
 * - `--preserve-digests`: no recompression or any other change of a blob (c/image would otherwise
 *   gzip uncompressed layers for a docker:// destination); checked afterwards: the registry holds
 *   every blob under its original digest and the manifest digest is ours.
 * - containers/image keeps a blob-info cache (for root: /var/lib/containers/cache) and would
 *   *mount* a blob it knows from another repository of the same registry instead of uploading it,
 *   making every push after the first near-instant. Each run gets a fresh, empty cache directory
 *   (`_CONTAINERS_ROOTLESS_UID` + `XDG_DATA_HOME`, which is how c/image picks the cache location),
 *   and the debug log is checked: every blob must be uploaded, none mounted or reused.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StoredModel } from '../support/ollama-store.js'
import { runTimed } from './processes.js'

export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar'
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json'
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'

export interface OciLayout {
  dir: string
  tag: string
  manifestBytes: Buffer
  manifestDigest: string
  remove(): Promise<void>
}

/** skopeo's version line, or undefined when it is not installed. */
export function skopeoVersion(): string | undefined {
  const result = spawnSync('skopeo', ['--version'], { encoding: 'utf8' })
  return result.status === 0 ? result.stdout.trim() : undefined
}

/** Build an `oci:` layout holding `model`'s blobs (hardlinked) under OCI media types. */
export async function makeOciLayout(model: StoredModel, tag = 'bench'): Promise<OciLayout> {
  const dir = await mkdtemp(join(tmpdir(), 'emp-bench-oci-'))
  const blobs = join(dir, 'blobs', 'sha256')
  await mkdir(blobs, { recursive: true })
  for (const blob of model.blobs) await link(blob.path, join(blobs, blob.digest.slice('sha256:'.length)))
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: model.config.digest, size: model.config.size },
    layers: model.layers.map((layer) => ({ mediaType: OCI_LAYER, digest: layer.digest, size: layer.size })),
  }
  const manifestBytes = Buffer.from(JSON.stringify(manifest))
  const manifestHex = createHash('sha256').update(manifestBytes).digest('hex')
  await writeFile(join(blobs, manifestHex), manifestBytes)
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: OCI_MANIFEST, digest: `sha256:${manifestHex}`, size: manifestBytes.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  )
  return { dir, tag, manifestBytes, manifestDigest: `sha256:${manifestHex}`, remove: () => rm(dir, { recursive: true, force: true }) }
}

export interface SkopeoPushResult {
  /** Wall clock of the skopeo process (GNU time). */
  ms: number
  maxRssKiB: number
  cpuMs: number
}

/** `skopeo copy oci:<layout>:<tag> docker://<host>/<repository>:<tag>`, checked to upload every blob. */
export async function skopeoPush(layout: OciLayout, host: string, repository: string, model: StoredModel): Promise<SkopeoPushResult> {
  const cache = await mkdtemp(join(tmpdir(), 'emp-bench-skopeo-'))
  try {
    const run = await runTimed(
      'skopeo',
      [
        '--debug',
        '--insecure-policy',
        'copy',
        '--retry-times', '0',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${layout.dir}:${layout.tag}`,
        `docker://${host}/${repository}:${layout.tag}`,
      ],
      { env: { _CONTAINERS_ROOTLESS_UID: '65534', XDG_DATA_HOME: cache, HOME: cache, TMPDIR: cache } },
    )
    if (run.code !== 0) throw new Error(`skopeo copy failed (${run.code}):\n${run.stderr.trim().split('\n').slice(-15).join('\n')}`)
    const log = run.stderr
    if (/mount=|Reusing blob|Skipping blob/i.test(log)) {
      throw new Error(`skopeo reused or mounted a blob instead of uploading it:\n${log.split('\n').filter((l) => /mount=|Reusing|Skipping/i.test(l)).join('\n')}`)
    }
    // Each blob must have been committed by this run: a `PUT …&digest=<digest>` of its own upload.
    const committed = model.blobs.map((blob) => blob.digest).filter((digest) => log.includes(`digest=${encodeURIComponent(digest)}`))
    if (committed.length !== model.blobs.length) {
      throw new Error(`skopeo committed ${committed.length} of ${model.blobs.length} blobs (expected every blob uploaded)`)
    }
    return { ms: run.wallMs, maxRssKiB: run.maxRssKiB, cpuMs: run.cpuUserMs + run.cpuSystemMs }
  } finally {
    await rm(cache, { recursive: true, force: true })
  }
}
