// `gatehouse convert FILE.cfg`: the YAML-shaped document of the haproxy.cfg reader, printed as the
// equivalent YAML configuration. Loading that YAML gives the same model as loading the cfg.
import { stringify } from 'yaml';

export function configToYaml(doc: unknown): string {
  return stringify(doc, {
    indent: 2,
    lineWidth: 0, // never fold long values (auth strings, URIs) over several lines
    // Flow style for the small maps of lists (servers, logs) reads like the DESIGN.md examples.
    collectionStyle: 'any',
    aliasDuplicateObjects: false, // the same object twice must be written twice, not as an alias
  });
}
