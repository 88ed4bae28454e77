// node_exporter (Debian's prometheus-node-exporter) on every host of server.node-exporter, on the
// host's own address: what Prometheus reads of the machine (CPU, memory, /data's free space).
import type { Runbook } from '../src/engine/runbook.js';
import { aptPackage } from '../src/ops/command.js';
import { directories } from '../src/ops/files.js';
import { restartHandler, service, type ServiceSpec } from '../src/ops/service.js';
import { waitFor } from '../src/ops/wait.js';
import type { HostSpec } from '../src/inventory/types.js';
import { nodeExporterPort } from '../src/monitoring/exporter.js';
import { exporterUp, packageServiceOff } from './exporters.js';

export const NODE_EXPORTER_DIR = '/data/node-exporter';
const LOG_DIR = '/data/log/node-exporter';

function spec(h: HostSpec): ServiceSpec {
  return {
    name: 'node-exporter',
    command: ['/usr/bin/prometheus-node-exporter', `--web.listen-address=${h.address}:${nodeExporterPort(h)}`],
    dir: NODE_EXPORTER_DIR,
    log: `${LOG_DIR}/node-exporter.log`,
  };
}

export const nodeExporter: Runbook = {
  name: 'node-exporter',
  summary: "node_exporter on the host's address (Debian's prometheus-node-exporter; the package's own service off)",
  host(h) {
    const s = spec(h.host);
    return {
      operations: [aptPackage('prometheus-node-exporter'), packageServiceOff('prometheus-node-exporter.service', h), directories([NODE_EXPORTER_DIR, LOG_DIR], { mode: 0o755 }), ...service(s, h, 'restart')],
      handlers: { restart: restartHandler(s, h) },
    };
  },
  after: (h) => [waitFor(`node_exporter answers on ${h.host.address}:${nodeExporterPort(h.host)}`, () => exporterUp(`${h.host.address}:${nodeExporterPort(h.host)}`), 30_000, `${LOG_DIR}/node-exporter.log`)],
};
