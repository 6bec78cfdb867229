// Case-insensitive comparisons of header names without allocating a lower-cased copy
// (String#toLowerCase showed up in the response-path profile).

/** True when `name` equals `lower` (already lower case, ASCII) ignoring ASCII case. */
export function sameLower(name: string, lower: string): boolean {
  const n = lower.length;
  if (name.length !== n) return false;
  for (let i = 0; i < n; i++) {
    let c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** True when `a` and `b` are equal ignoring ASCII case. */
export function sameIgnoreCase(a: string, b: string): boolean {
  const n = a.length;
  if (b.length !== n) return false;
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x >= 65 && x <= 90) x += 32;
    if (y >= 65 && y <= 90) y += 32;
    if (x !== y) return false;
  }
  return true;
}
