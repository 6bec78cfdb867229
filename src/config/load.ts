// Entry point for every config reader: picks YAML or haproxy.cfg syntax by file name, reads the
// files, and hands the YAML-shaped document to the shared validator.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from './model';
import { ConfigError, type ConfigIssue, type SourceMap } from './errors';
import { readHaproxyCfg } from './haproxy-cfg';
import { buildModel } from './validate';
import { parseYaml } from './yaml';

function fileIssue(file: string, message: string): ConfigIssue {
  return { severity: 'error', file, line: 0, col: 0, path: '', expected: '', found: '', message };
}

function isYamlPath(p: string): boolean {
  return /\.ya?ml$/i.test(p);
}

/**
 * `paths`: one .yaml/.yml file, or any number of haproxy.cfg files and directories (a directory
 * contributes its *.cfg files in name order, like `haproxy -f DIR`).
 */
export function loadConfig(paths: string[]): { config: Config; warnings: ConfigIssue[] } {
  if (paths.length === 0) throw new ConfigError([fileIssue('(command line)', 'no configuration file given (use -f FILE)')]);
  const problems: ConfigIssue[] = [];
  const yamlFiles: { file: string; text: string }[] = [];
  const cfgFiles: { file: string; text: string }[] = [];

  const read = (file: string): string | null => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (e) {
      problems.push(fileIssue(file, `cannot read the configuration: ${(e as Error).message}`));
      return null;
    }
  };

  for (const p of paths) {
    let isDir = false;
    try {
      isDir = fs.statSync(p).isDirectory();
    } catch (e) {
      problems.push(fileIssue(p, `cannot read the configuration: ${(e as Error).message}`));
      continue;
    }
    if (isDir) {
      let names: string[];
      try {
        names = fs.readdirSync(p).filter((n) => n.endsWith('.cfg')).sort();
      } catch (e) {
        problems.push(fileIssue(p, `cannot read the configuration directory: ${(e as Error).message}`));
        continue;
      }
      if (names.length === 0) problems.push(fileIssue(p, 'the directory holds no *.cfg file'));
      for (const n of names) {
        const file = path.join(p, n);
        const text = read(file);
        if (text !== null) cfgFiles.push({ file, text });
      }
      continue;
    }
    const text = read(p);
    if (text === null) continue;
    (isYamlPath(p) ? yamlFiles : cfgFiles).push({ file: p, text });
  }
  if (yamlFiles.length > 1) {
    problems.push(fileIssue(yamlFiles[1].file, `only one YAML configuration file is allowed (already given: ${yamlFiles[0].file})`));
  }
  if (yamlFiles.length > 0 && cfgFiles.length > 0) {
    problems.push(fileIssue(cfgFiles[0].file, `YAML (${yamlFiles[0].file}) and haproxy.cfg files cannot be mixed`));
  }
  if (problems.length) throw new ConfigError(problems);

  let doc: unknown;
  let src: SourceMap;
  const warnings: ConfigIssue[] = [];
  /** errors of the cfg reader: the validator still runs over the rest, so -c lists everything */
  let readerErrors: ConfigIssue[] = [];
  if (yamlFiles.length === 1) {
    const parsed = parseYaml(yamlFiles[0].text, yamlFiles[0].file);
    ({ doc, src } = parsed);
    warnings.push(...parsed.warnings);
  } else {
    const parsed = readHaproxyCfg(cfgFiles);
    ({ doc, src } = parsed);
    warnings.push(...parsed.warnings);
    readerErrors = parsed.errors;
  }
  let built: { config: Config; warnings: ConfigIssue[] };
  try {
    built = buildModel(doc, src);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // Keep the reader's errors and warnings with the validator's. A validator issue on a line the
    // reader already refused is a consequence of that refusal, not news.
    const refused = new Set(readerErrors.map((i) => `${i.file}:${i.line}`));
    const more = e.issues.filter((i) => !(i.line > 0 && refused.has(`${i.file}:${i.line}`)));
    throw new ConfigError(mergeIssues([...readerErrors, ...more.filter((i) => i.severity === 'error')], [...warnings, ...more.filter((i) => i.severity === 'warning')]));
  }
  if (readerErrors.length) throw new ConfigError(mergeIssues(readerErrors, [...warnings, ...built.warnings]));
  built.config.sources = [...paths];
  return { config: built.config, warnings: [...warnings, ...built.warnings] };
}

/** Errors, then warnings, each in source order (file of first appearance, line, column). */
function mergeIssues(errors: ConfigIssue[], warnings: ConfigIssue[]): ConfigIssue[] {
  const fileRank = new Map<string, number>();
  for (const i of [...errors, ...warnings]) if (!fileRank.has(i.file)) fileRank.set(i.file, fileRank.size);
  const order = (list: ConfigIssue[]): ConfigIssue[] =>
    [...list].sort((a, b) => (fileRank.get(a.file) ?? 0) - (fileRank.get(b.file) ?? 0) || a.line - b.line || a.col - b.col);
  return [...order(errors), ...order(warnings)];
}
