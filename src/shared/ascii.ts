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
