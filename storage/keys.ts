/** Object keys: the one place that decides which keys are acceptable and how outputs are named. */

const MAX_KEY_BYTES = 1024;

/**
 * Returns the reason a key is unacceptable, or null when it is a clean relative key.
 * No normalising happens here: a key that would need it (`a//b`, `./a`, `a/../b`) is refused,
 * so one object has exactly one key.
 *
 * @example keyProblem('../../etc/passwd') // 'must not contain "." or ".." segments'
 */
export function keyProblem(key: string, { allowTrailingSlash = false } = {}): string | null {
  if (key.length === 0) return 'must not be empty';
  if (new TextEncoder().encode(key).length > MAX_KEY_BYTES) return `must be at most ${MAX_KEY_BYTES} bytes`;
  // Control characters (NUL included) have no place in a key and confuse logs and file systems.
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'must not contain control characters';
  if (key.includes('\\')) return 'must use "/" as separator, not "\\"';
  if (key.startsWith('/')) return 'must be relative (no leading "/")';
  if (/^[A-Za-z]:/.test(key)) return 'must be relative (no drive letter)';
  const body = allowTrailingSlash && key.endsWith('/') ? key.slice(0, -1) : key;
  const segments = body.split('/');
  if (segments.some((s) => s === '.' || s === '..')) return 'must not contain "." or ".." segments';
  if (segments.some((s) => s === '')) return 'must not contain empty segments ("//" or a trailing "/")';
  if (!key.isWellFormed()) return 'must be valid UTF-8';
  return null;
}

/** The deterministic key of an output: `{outputPrefix}{jobId}/{name}.{ext}`; a retry overwrites it. */
export function outputKey(outputPrefix: string, jobId: string, name: string, ext: string): string {
  return `${outputPrefix}${jobId}/${name}.${ext}`;
}
