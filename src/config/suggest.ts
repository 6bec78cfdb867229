// "Did you mean" for unknown keys and values: the closest candidate by edit distance, treating
// '-' like '_' and ignoring case (HAProxy users write http-request where the YAML says http_request).

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = [];
  for (let i = 0; i < rows; i++) {
    d.push(new Array<number>(cols).fill(0));
    d[i][0] = i;
  }
  for (let j = 0; j < cols; j++) d[0][j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2][j - 2] + 1);
      d[i][j] = v;
    }
  }
  return d[rows - 1][cols - 1];
}

function normalize(s: string): string {
  return s.toLowerCase().replace(/-/g, '_');
}

/** The closest candidate, or null when none is close enough to be a plausible typo. */
export function suggest(word: string, candidates: Iterable<string>): string | null {
  const w = normalize(word);
  // Bound the work: keys are short; a pathological 10k-character key is not a typo.
  if (w.length > 200) return null;
  let best: string | null = null;
  let bestDist = Infinity;
  for (const c of candidates) {
    const dist = editDistance(w, normalize(c));
    if (dist < bestDist) {
      best = c;
      bestDist = dist;
    }
  }
  if (best === null) return null;
  const limit = Math.max(1, Math.floor(Math.max(w.length, best.length) / 3));
  return bestDist <= limit ? best : null;
}

/** `; did you mean "X"?` or an empty string, for appending to a message. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s === null ? '' : `; did you mean "${s}"?`;
}
