// The scheduler's HTTP endpoint for Prometheus: /metrics (ovl's view), /memcache?target=ADDRESS:PORT
// (a memcached's stats; only instances of memcache clusters etcd records: the endpoint must not
// become a way to open connections anywhere), and /-/healthy.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MetricsHandlers {
  ovl(): Promise<string>;
  /** The metrics of a memcache target, or undefined when it is not an instance ovl runs. */
  memcache(target: string): Promise<string | undefined>;
}

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Parse `ADDRESS:PORT` of --metrics; port 0 takes a free one. */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(s);
  if (!m || Number(m[2]) > 65535 || m[1] === '0.0.0.0') throw new Error(`--metrics ${JSON.stringify(s)} is not ADDRESS:PORT: give the address Prometheus reaches this host at, e.g. --metrics 10.20.0.5:9464`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** Listen; resolves with the server and the address it serves at (the port chosen when 0). */
export async function serveMetrics(listen: { host: string; port: number }, h: MetricsHandlers, log: (line: string) => void): Promise<{ server: Server; address: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    const fail = (e: Error) => {
      log(`metrics ${url.pathname}: ${e.message}`);
      reply(500, `${e.message}\n`);
    };
    if (req.method !== 'GET') return reply(405, 'GET only\n');
    if (url.pathname === '/metrics') return void h.ovl().then((t) => reply(200, t, CONTENT_TYPE), fail);
    if (url.pathname === '/memcache') {
      const target = url.searchParams.get('target') ?? '';
      return void h.memcache(target).then((t) => (t === undefined ? reply(404, `${target} is not a memcache instance of this fleet\n`) : reply(200, t, CONTENT_TYPE)), fail);
    }
    if (url.pathname === '/-/healthy') return reply(200, 'ok\n');
    reply(404, 'see /metrics and /memcache?target=ADDRESS:PORT\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: Error) => reject(new Error(`--metrics ${listen.host}:${listen.port}: cannot listen (${e.message}): give a free port of an address of this host`)));
    server.listen(listen.port, listen.host, () => resolve());
  });
  server.unref();
  return { server, address: `${listen.host}:${(server.address() as AddressInfo).port}` };
}
