/**
 * Normalises a path from a tar header the way {@link TarEntry.path} promises: no leading `/` or
 * `./`, no trailing `/`, no empty or `.` components; `..` components are kept verbatim so that
 * higher layers can see and reject them. The root directory (`.`, `./`, `/`) becomes `''`.
 *
 * @example
 * ```ts
 * normalizeTarPath('./usr//bin/./ls'); // 'usr/bin/ls'
 * normalizeTarPath('./');              // ''
 * normalizeTarPath('a/../b');          // 'a/../b'
 * ```
 */
export function normalizeTarPath(raw: string): string {
  // Fast path: already normal (the common case for well-formed layers).
  if (raw.length > 0 && raw.charCodeAt(0) !== 0x2f && raw.charCodeAt(raw.length - 1) !== 0x2f &&
      !raw.includes('//') && !raw.startsWith('./') && !raw.includes('/./') && !raw.endsWith('/.') && raw !== '.') {
    return raw;
  }
  const parts: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    parts.push(part);
  }
  return parts.join('/');
}
