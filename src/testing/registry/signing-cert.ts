import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImageError } from '../../errors/index.js';

const run = promisify(execFile);

/** A self-signed RSA certificate and its key, made for signing test tokens. */
export interface SigningCert {
  /** The certificate, PEM (what the registry's `rootcertbundle` file holds). */
  certPem: string;
  /** The certificate, DER (what goes, base64, into a JWT header's `x5c`). */
  certDer: Buffer;
  /** The RSA private key. */
  privateKey: KeyObject;
}

/**
 * Makes a fresh self-signed RSA 2048 certificate with `openssl req -x509` (valid one day).
 * Throws `FailedPrecondition` when openssl is missing.
 *
 * @example
 * ```ts
 * const { certPem, certDer, privateKey } = await makeSigningCert('imagefs-test-issuer');
 * ```
 */
export async function makeSigningCert(commonName: string): Promise<SigningCert> {
  const dir = await mkdtemp(join(tmpdir(), 'imagefs-cert-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    await run('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
      '-subj', `/CN=${commonName}`, '-keyout', keyFile, '-out', certFile,
    ]).catch((e: unknown) => {
      throw new ImageError('FailedPrecondition', `cannot make a signing certificate with openssl: ${String((e as Error).message)}`, {
        cause: e,
        hint: 'install openssl (apt-get install openssl)',
      });
    });
    const certPem = await readFile(certFile, 'utf8');
    const privateKey = createPrivateKey(await readFile(keyFile, 'utf8'));
    return { certPem, certDer: new X509Certificate(certPem).raw, privateKey };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
