// The few etcd calls bootstrap makes (health, member list/add, one key), over etcd's own HTTP
// endpoints: /health and the JSON gateway of the v3 API. The gRPC client (etcd3) takes half a
// second of CPU to load, more than the rest of a no-op bootstrap; cluster management, with its
// watches, leases, elections and transactions, uses etcd3.
// Over TLS, one keep-alive agent per set of credentials: a no-op bootstrap asks each member a few
// times and must not pay a handshake per call (idle kept sockets do not hold the process open).
import http from 'node:http';
import https from 'node:https';
import type { HostSpec } from '../inventory/types.js';
import { clientURL, type EtcdAccess, type EtcdTls } from './etcd.js';

export interface Member {
  ID: string;
  name?: string;
  peerURLs: string[];
  clientURLs?: string[];
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

const agents = new WeakMap<EtcdTls, https.Agent>();
const plainAgent = new http.Agent({ keepAlive: true });

function agentFor(tls: EtcdTls | undefined): http.Agent {
  if (!tls) return plainAgent;
  let a = agents.get(tls);
  if (!a) {
    a = new https.Agent({ keepAlive: true, ca: tls.ca, cert: tls.cert, key: tls.key });
    agents.set(tls, a);
  }
  return a;
}

/** One request; the body as text, or an error naming the URL and status. */
function request(access: EtcdAccess, url: string, method: 'GET' | 'POST', body: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, agent: agentFor(u.protocol === 'https:' ? access.tls : undefined), timeout: timeoutMs, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** POST to the first endpoint that answers. */
async function post<T>(access: EtcdAccess, path: string, body: object, timeoutMs: number): Promise<T> {
  let last: unknown;
  for (const ep of access.endpoints) {
    try {
      const res = await request(access, `${ep}${path}`, 'POST', JSON.stringify(body), timeoutMs);
      if (res.status < 200 || res.status >= 300) throw new Error(`${ep}${path}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
      return JSON.parse(res.text) as T;
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`etcd does not answer at ${access.endpoints.join(', ')}: ${(last as Error)?.message ?? 'no endpoint'}`);
}

export async function memberList(access: EtcdAccess, timeoutMs = 2000): Promise<Member[]> {
  return (await post<{ members?: Member[] }>(access, '/v3/cluster/member/list', {}, timeoutMs)).members ?? [];
}

export async function memberAdd(access: EtcdAccess, peerURL: string, timeoutMs = 5000): Promise<void> {
  await post(access, '/v3/cluster/member/add', { peerURLs: [peerURL] }, timeoutMs);
}

export async function memberUpdate(access: EtcdAccess, id: string, peerURLs: string[], timeoutMs = 5000): Promise<void> {
  await post(access, '/v3/cluster/member/update', { ID: id, peerURLs }, timeoutMs);
}

export async function memberRemove(access: EtcdAccess, id: string, timeoutMs = 5000): Promise<void> {
  await post(access, '/v3/cluster/member/remove', { ID: id }, timeoutMs);
}

export async function getKey(access: EtcdAccess, key: string, timeoutMs = 2000): Promise<string | undefined> {
  const r = await post<{ kvs?: { value?: string }[] }>(access, '/v3/kv/range', { key: b64(key) }, timeoutMs);
  const v = r.kvs?.[0]?.value;
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

export async function putKey(access: EtcdAccess, key: string, value: string, timeoutMs = 2000): Promise<void> {
  await post(access, '/v3/kv/put', { key: b64(key), value: b64(value) }, timeoutMs);
}

/** Whether the member at its client URL is the cluster's leader now (its own status says so). */
export async function leads(access: EtcdAccess, clientURL: string, timeoutMs = 1000): Promise<boolean> {
  const s = await post<{ header?: { member_id?: string }; leader?: string }>({ ...access, endpoints: [clientURL] }, '/v3/maintenance/status', {}, timeoutMs);
  return !!s.leader && s.leader === s.header?.member_id;
}

/** The member's own health endpoint: true when it has a leader and serves (etcd's /health). */
export async function healthy(access: EtcdAccess, url: string, timeoutMs = 1000): Promise<boolean> {
  const res = await request(access, `${url}/health`, 'GET', undefined, timeoutMs);
  return res.status === 200 && (JSON.parse(res.text) as { health?: string }).health === 'true';
}

/** The members of `hosts` that serve now (asked at once), in the order given. */
export async function serving(access: EtcdAccess, hosts: HostSpec[], timeoutMs = 2000): Promise<HostSpec[]> {
  const ok = await Promise.all(hosts.map((h) => healthy(access, clientURL(h), timeoutMs).catch(() => false)));
  return hosts.filter((_, i) => ok[i]);
}
