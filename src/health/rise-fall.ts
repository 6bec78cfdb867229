// HAProxy's check "health" counter (checks.c, set_server_check_status): 0..rise+fall-1.
// A server is UP while health >= rise. When UP it sits at rise+fall-1, so `fall` failures in a
// row reach rise-1, which snaps to 0 (DOWN); when DOWN it sits at 0, and `rise` successes in a
// row reach rise, which snaps to rise+fall-1 (UP).

export interface RiseFall {
  rise: number;
  fall: number;
}

export function maxHealth(p: RiseFall): number {
  return p.rise + p.fall - 1;
}

export function afterSuccess(health: number, p: RiseFall): number {
  if (health >= maxHealth(p)) return maxHealth(p);
  const h = health + 1;
  return h >= p.rise ? maxHealth(p) : h;
}

export function afterFailure(health: number, p: RiseFall): number {
  if (health <= 0) return 0;
  const h = health - 1;
  return h < p.rise ? 0 : h;
}

export interface Intervals {
  inter: number;
  fastinter: number;
  downinter: number;
}

/** HAProxy srv_getinter(): inter when steady UP, downinter when steady DOWN, fastinter in between. */
export function nextInterval(health: number, up: boolean, p: RiseFall, i: Intervals): number {
  if (health === maxHealth(p)) return i.inter;
  if (!up && health === 0) return i.downinter;
  return i.fastinter;
}
