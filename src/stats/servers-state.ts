// `show servers state [<backend>]`: HAProxy's server-state format (version 1), the columns
// load-server-state-from-file reads. Operators and tests use it to see each server's address
// and state; gatehouse fills the check columns as far as it has the same notions.
import { isIP } from 'node:net';
import type { Config } from '../config/model';
import { ADMIN_DRAIN, ADMIN_MAINT, S_ADMIN, S_HEALTH, S_LAST_CHANGE, S_RMAINT, S_WEIGHT, dynamicAddress, type ServerIndex, type SharedState } from '../shared/state';
import { isInternalBackend } from './routed-names';

const HEADER =
  '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n';

// HAProxy's SRV_ADMF_* bits
const ADMF_FMAINT = 0x01;
const ADMF_CMAINT = 0x04;
const ADMF_FDRAIN = 0x08;
const ADMF_RMAINT = 0x20;

/** The answer, or null when `backend` is named and unknown. `iid`: HAProxy's proxy ids by name. */
export function serversState(config: Config, state: SharedState, index: ServerIndex, iid: (name: string) => number, backend?: string): string | null {
  if (backend !== undefined && !index.backendByName.has(backend)) return null;
  const now = Math.floor(Date.now() / 1000);
  const lines: string[] = [];
  config.backends.forEach((b, bi) => {
    if ((backend !== undefined && b.name !== backend) || isInternalBackend(b)) return;
    b.servers.forEach((s, si) => {
      const gi = index.server(bi, si);
      let addr = s.host;
      let port = s.port;
      if (dynamicAddress(s)) {
        const a = state.readAddress(gi).addr;
        addr = a === null ? '-' : a.ip;
        if (a !== null) port = a.port;
      }
      const admin = state.get(gi, S_ADMIN);
      let flags = 0;
      if (admin === ADMIN_MAINT) flags |= s.disabled ? ADMF_CMAINT : ADMF_FMAINT;
      if (admin === ADMIN_DRAIN) flags |= ADMF_FDRAIN;
      if (state.get(gi, S_RMAINT) === 1) flags |= ADMF_RMAINT;
      // op state: 2 running, 0 stopped (a server in maintenance is stopped)
      const op = flags & (ADMF_FMAINT | ADMF_CMAINT | ADMF_RMAINT) || state.get(gi, S_HEALTH) !== 1 ? 0 : 2;
      const fqdn = isIP(s.host) === 0 ? s.host : '-';
      lines.push(
        [
          iid(b.name), b.name, si + 1, s.name, addr, op, flags, state.get(gi, S_WEIGHT), s.weight,
          Math.max(0, now - state.get(gi, S_LAST_CHANGE)), 1, 0, s.check ? (op === 2 ? (s.rise ?? b.healthCheck.rise) + (s.fall ?? b.healthCheck.fall) - 1 : 0) : 0,
          s.check ? 6 : 0, 0, 0, 0, fqdn, port, '-', 0, s.checkPort ?? 0, s.checkAddr ?? '-', s.agent?.addr ?? '-', s.agent?.port ?? 0,
        ].join(' '),
      );
    });
  });
  return HEADER + lines.map((l) => l + '\n').join('') + '\n';
}
