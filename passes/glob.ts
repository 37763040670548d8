/**
 * Glob patterns for --private / --public. Initializer names are flat strings
 * (`encoder.layer.3.attention.self.query.weight`, `onnx::MatMul_812`), so `*`
 * matches any run of characters, `?` exactly one; everything else is literal.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function matchesAny(name: string, globs: readonly string[]): boolean {
  return globs.some((g) => globToRegExp(g).test(name));
}
