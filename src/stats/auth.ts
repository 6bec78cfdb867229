// HTTP Basic authentication for the stats listener. Credentials are compared as SHA-256
// digests with timingSafeEqual, against every configured user without stopping early, so the
// time taken says nothing about which part (user or password) or how much of it matched.
import { createHash, timingSafeEqual } from 'node:crypto';

function digest(s: string | Buffer): Buffer {
  return createHash('sha256').update(s).digest();
}

export class BasicAuth {
  private readonly digests: Buffer[];
  private readonly users: string[];

  constructor(users: { user: string; password: string }[]) {
    this.digests = users.map((u) => digest(`${u.user}:${u.password}`));
    this.users = users.map((u) => u.user);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** The authenticated user name, or null. Always true-ish (user '') when auth is off. */
  check(header: string | undefined): string | null {
    if (!this.enabled) return '';
    const m = header ? /^\s*basic\s+([A-Za-z0-9+/=._~-]+)\s*$/i.exec(header) : null;
    // Without usable credentials, still pay for one comparison round.
    const given = digest(m ? Buffer.from(m[1], 'base64') : Buffer.alloc(0));
    let found = -1;
    for (let i = 0; i < this.digests.length; i++) {
      if (timingSafeEqual(given, this.digests[i]) && found < 0) found = i;
    }
    return m && found >= 0 ? this.users[found] : null;
  }
}

export function challenge(realm: string): string {
  return `Basic realm="${realm.replace(/["\\\r\n]/g, '')}"`;
}
