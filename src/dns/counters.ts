// Per-nameserver counters and their `show resolvers` text, in HAProxy 2.6's names and layout.

export const COUNTER_NAMES = [
  'sent', 'snd_error', 'valid', 'update', 'cname', 'cname_error', 'any_err', 'nx', 'timeout', 'refused',
  'other', 'invalid', 'too_big', 'truncated', 'outdated',
] as const;

export type NameserverStats = Record<(typeof COUNTER_NAMES)[number], number>;

export function newStats(): NameserverStats {
  const s = {} as NameserverStats;
  for (const k of COUNTER_NAMES) s[k] = 0;
  return s;
}

/** One resolvers section as `show resolvers` prints it. */
export function formatSection(name: string, nameservers: { name: string; stats: NameserverStats }[]): string {
  const lines = [`Resolvers section ${name}`];
  for (const ns of nameservers) {
    lines.push(` nameserver ${ns.name}:`);
    for (const k of COUNTER_NAMES) lines.push(`  ${(k + ':').padEnd(13)}${ns.stats[k]}`);
  }
  return lines.join('\n') + '\n';
}
