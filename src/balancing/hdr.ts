// hdr(NAME): consistent hash of the request header's value; a request without the header (key
// null or empty) is balanced roundrobin, as HAProxy does.

import { HashBalancer } from './hash-balancer';
import { hashString } from './hash';

export class HeaderBalancer extends HashBalancer {
  protected hash(key: string): number {
    return hashString(key);
  }
}
