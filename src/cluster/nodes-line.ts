// A line of CLUSTER NODES, taken apart: what the admin helpers (join, failback) read of a node's
// view and what the consistency check explains when a line is not as planned.

/** `<id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...` */
export interface NodeLine {
  id: string;
  addr: string;
  flags: string[];
  /** The master's id, or '-'. */
  master: string;
  /** The slot ranges as written ("0-5460 5461"), or ''. */
  slots: string;
  /** The cluster bus link as this node sees it: connected or disconnected. */
  link: string;
}

/** One line, or undefined when it has fewer than the eight fields every line has. */
export function parseNodeLine(line: string): NodeLine | undefined {
  const sp: number[] = [];
  for (let p = line.indexOf(' '); p >= 0 && sp.length < 8; p = line.indexOf(' ', p + 1)) sp.push(p);
  if (sp.length < 7) return undefined;
  return {
    id: line.slice(0, sp[0]),
    addr: line.slice(sp[0]! + 1, sp[1]),
    flags: line.slice(sp[1]! + 1, sp[2]).split(','),
    master: line.slice(sp[2]! + 1, sp[3]),
    slots: sp.length === 8 ? line.slice(sp[7]! + 1) : '',
    link: line.slice(sp[6]! + 1, sp.length === 8 ? sp[7] : undefined),
  };
}

/** CLUSTER NODES by node id (malformed lines left out). */
export function parseClusterNodes(text: string): Map<string, NodeLine> {
  const out = new Map<string, NodeLine>();
  for (const l of text.split('\n')) {
    const n = parseNodeLine(l.replace(/\r$/, ''));
    if (n) out.set(n.id, n);
  }
  return out;
}
