// uri: consistent hash of the path, the part of the URI before '?' (HAProxy's default without
// `whole`). The cut is done by hashing up to the '?' in place.

import { HashBalancer } from './hash-balancer';
import { hashString } from './hash';

export class UriBalancer extends HashBalancer {
  protected hash(key: string): number {
    const q = key.indexOf('?');
    return hashString(key, q < 0 ? key.length : q);
  }
}
