import type { HostSpec, Inventory } from '../inventory/types.js';
import { Remote } from '../ssh/remote.js';

/** SSH connections to the fleet's hosts, opened on first use and kept for the scheduler's life. */
export class Fleet {
  private readonly conns = new Map<string, Promise<Remote>>();
  constructor(readonly inv: Inventory) {}

  host(name: string): HostSpec {
    const h = this.inv.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`host ${name} is in etcd but not in ${this.inv.file}`);
    return h;
  }

  async remote(name: string): Promise<Remote> {
    let p = this.conns.get(name);
    if (p) {
      const r = await p.catch(() => undefined);
      if (r?.connected) return r;
    }
    p = Remote.connect(this.host(name), { acceptNewHostKeys: false });
    this.conns.set(name, p);
    p.catch(() => this.conns.delete(name));
    return p;
  }

  async close(): Promise<void> {
    for (const p of this.conns.values()) (await p.catch(() => undefined))?.close();
    this.conns.clear();
  }
}
