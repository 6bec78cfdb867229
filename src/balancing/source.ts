// source: consistent hash of the client IP address. A client keeps its server as long as that
// server stays usable, whatever happens to the others.

import { HashBalancer } from './hash-balancer';
import { hashString } from './hash';

export class SourceBalancer extends HashBalancer {
  protected hash(key: string): number {
    return hashString(key);
  }
}
