import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ImageError } from '../../errors/index.js';
import { MediaType } from '../../image/media-types.js';
import { authorizedRequest, registryError, type RegistryTarget } from './registry-auth.js';
import type { PushOptions } from './push.js';

const run = promisify(execFile);

/** What {@link pushSchema1} pushes. */
export interface PushSchema1Options extends PushOptions {
  /** The OCI layout directory. */
  layoutDir: string;
  /** The tag of the image in the layout. */
  tag: string;
  /** The destination repository. */
  repo: string;
  /** The destination tag. Default: `tag`. */
  destTag?: string;
}

/** A schema 1 manifest as the registry stores it. */
export interface PushedSchema1 {
  /** The registry's digest of it (`Docker-Content-Digest`; the signatures are not part of it). */
  digest: string;
  /** `application/vnd.docker.distribution.manifest.v1+prettyjws`. */
  mediaType: string;
  /** The signed manifest bytes as the registry serves them. */
  bytes: Buffer;
}

/**
 * Pushes an image of an OCI layout as a signed Docker schema 1 manifest, with
 * `skopeo copy --format v2s1 oci:L:T docker://HOST/REPO:TAG` (skopeo converts, signs with a fresh
 * key, and writes the repository name into the manifest, which distribution requires: a manifest
 * made with `dir:` has an empty name and is refused with NAME_INVALID). The registry must run with
 * `schema1: true`. Returns the manifest as the registry serves it.
 *
 * @example
 * ```ts
 * const reg = await startRegistry({ schema1: true });
 * const { digest, bytes } = await pushSchema1(reg, { layoutDir, tag: 'v1', repo: 'old/app' });
 * ```
 */
export async function pushSchema1(target: RegistryTarget, options: PushSchema1Options): Promise<PushedSchema1> {
  const host = new URL(target.url).host;
  const destTag = options.destTag ?? options.tag;
  const args = ['copy', '--quiet', '--format', 'v2s1', '--dest-tls-verify=false'];
  if (target.auth !== undefined) args.push('--dest-creds', `${target.auth.username}:${target.auth.password}`);
  args.push(`oci:${options.layoutDir}:${options.tag}`, `docker://${host}/${options.repo}:${destTag}`);
  try {
    await run('skopeo', args, { signal: options.signal });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') {
      throw new ImageError('FailedPrecondition', 'skopeo is not installed', { cause: e, hint: 'install it: apt-get install -y skopeo' });
    }
    const said = (err.stderr ?? err.message).replace(/--dest-creds \S+/g, '--dest-creds ***').trim();
    throw new ImageError('Unavailable', `skopeo could not push ${options.repo}:${destTag} as schema 1: ${said}`, {
      cause: e,
      hint: 'start the registry with schema1: true',
    });
  }
  const url = `${target.url}/v2/${options.repo}/manifests/${destTag}`;
  const res = await authorizedRequest(target, url, {
    headers: { accept: MediaType.DOCKER_SCHEMA1_SIGNED },
    scope: `repository:${options.repo}:pull`,
    signal: options.signal,
  });
  if (res.statusCode !== 200) throw await registryError(res, url, 'cannot read back the schema 1 manifest');
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return {
    digest: String(res.headers['docker-content-digest'] ?? ''),
    mediaType: String(res.headers['content-type'] ?? MediaType.DOCKER_SCHEMA1_SIGNED),
    bytes,
  };
}
