import { ImageError } from '../errors/image-fs-error.js';

/** The registry Docker Hub references default to. */
export const DOCKER_HUB = 'docker.io';

/** Where Docker Hub's API really answers. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

/**
 * A registry image reference, normalised: `registry` is `HOST[:PORT]` (Docker Hub is `docker.io`),
 * `repository` carries `library/` for Docker Hub official images, and at least one of `tag` and
 * `digest` is set (`latest` when the text had neither).
 */
export interface ImageReference {
  /** `HOST[:PORT]` as written (lower-cased host), `docker.io` for Docker Hub. */
  readonly registry: string;
  /** The repository path, for instance `library/alpine` or `team/app/web`. */
  readonly repository: string;
  /** The tag, when the reference had one (or `latest` when it had neither tag nor digest). */
  readonly tag?: string;
  /** The digest (`sha256:<64 hex>`), when the reference had one. */
  readonly digest?: string;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const DOMAIN_LABEL = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;

function bad(text: string, why: string): ImageError {
  return new ImageError('InvalidArgument', `invalid image reference '${text}': ${why}`, {
    hint: 'write it as [HOST[:PORT]/]PATH[:TAG][@DIGEST], for instance docker.io/library/alpine:3.20',
  });
}

/** True when `first` (the text before the first `/`) names a registry rather than a path component. */
function looksLikeDomain(first: string): boolean {
  return first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase();
}

function checkDomain(text: string, domain: string): void {
  let host = domain;
  let port: string | undefined;
  if (domain.startsWith('[')) {
    const close = domain.indexOf(']');
    if (close < 0) throw bad(text, `registry '${domain}' has an unclosed IPv6 bracket`);
    host = domain.slice(1, close);
    const rest = domain.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw bad(text, `registry '${domain}' is malformed`);
    port = rest === '' ? undefined : rest.slice(1);
    if (!/^[0-9a-fA-F:.]+$/.test(host) || !host.includes(':')) throw bad(text, `registry '${domain}' is not a valid IPv6 address`);
  } else {
    const colon = domain.lastIndexOf(':');
    if (colon >= 0) {
      host = domain.slice(0, colon);
      port = domain.slice(colon + 1);
    }
    if (host === '' || !host.split('.').every((label) => DOMAIN_LABEL.test(label))) {
      throw bad(text, `registry host '${host}' is not a valid host name`);
    }
  }
  if (port !== undefined && (!/^[0-9]+$/.test(port) || Number(port) > 65535)) throw bad(text, `registry port '${port}' is not a port number`);
}

/**
 * Parses a registry reference in Docker's grammar, `[HOST[:PORT]/]PATH[:TAG][@DIGEST]`, and
 * normalises it as Docker does: no registry means `docker.io`, a one-component Docker Hub path
 * gains `library/`, `index.docker.io` becomes `docker.io`, and a reference with neither tag nor
 * digest gets the tag `latest`. Throws `InvalidArgument` naming what is wrong.
 *
 * @example
 * ```ts
 * parseReference('alpine');                 // { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }
 * parseReference('127.0.0.1:5000/a/b@sha256:…'); // digest only, no tag
 * ```
 */
export function parseReference(text: string): ImageReference {
  if (typeof text !== 'string' || text === '') throw bad(String(text), 'it is empty');
  if (/\s/.test(text)) throw bad(text, 'it contains white space');
  if (text.includes('://')) throw bad(text, 'a reference has no URL scheme');
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (digest.startsWith('sha256:') && !SHA256.test(digest)) throw bad(text, 'a sha256 digest is 64 lower-case hex digits');
    if (!DIGEST.test(digest)) throw bad(text, `digest '${digest}' is not ALGORITHM:HEX`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(text, `tag '${tag}' must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'`);
  }
  if (rest === '') throw bad(text, 'the repository name is missing');
  let registry = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0 && looksLikeDomain(rest.slice(0, slash))) {
    registry = rest.slice(0, slash);
    path = rest.slice(slash + 1);
    checkDomain(text, registry);
    registry = registry.toLowerCase();
    if (registry === 'index.docker.io') registry = DOCKER_HUB;
  }
  if (path === '') throw bad(text, 'the repository name is missing');
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      throw bad(text, `repository component '${component}' must be lower-case letters and digits, separated by '.', '_', '__' or '-'`);
    }
  }
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (registry.length + 1 + path.length > 255) throw bad(text, 'the name is longer than 255 characters');
  if (tag === undefined && digest === undefined) tag = 'latest';
  const ref: { registry: string; repository: string; tag?: string; digest?: string } = { registry, repository: path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** Formats a reference in full form: `HOST/REPOSITORY[:TAG][@DIGEST]`. */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

/** What to ask the manifest endpoint for: the digest when there is one (it wins over the tag), else the tag. */
export function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** The host to send API requests to: `registry-1.docker.io` for Docker Hub, else the registry itself. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

/** True when `digest` is a well-formed `sha256:<64 lower-case hex>`. */
export function isSha256Digest(digest: string): boolean {
  return SHA256.test(digest);
}

/**
 * True for hosts on loopback (`localhost`, `127.0.0.0/8`, `::1`), with or without a port; they are
 * spoken to over plain HTTP by default.
 */
export function isLoopbackHost(host: string): boolean {
  let h = host.toLowerCase();
  if (h.startsWith('[')) h = h.slice(1, h.indexOf(']'));
  else if (h.split(':').length === 2) h = h.slice(0, h.indexOf(':'));
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return m !== null && m.slice(1).every((n) => Number(n) <= 255);
}
