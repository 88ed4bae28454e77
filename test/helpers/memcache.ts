import { connect } from 'node:net';

/** Speak the memcache text protocol; the server closes after `quit`. */
export function memcacheTalk(host: string, port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const sock = connect({ host, port }, () => sock.end(request));
    sock.setTimeout(5000, () => sock.destroy(new Error('memcache timed out')));
    sock.on('data', (d) => (out += d)).on('close', () => resolve(out)).on('error', reject);
  });
}
