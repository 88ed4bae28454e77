// redis_exporter (Debian's prometheus-redis-exporter) on every host of server.redis-exporter (the
// cache hosts), on the host's own address, in multi-target mode: Prometheus asks it for each
// instance of the host (/scrape?target=redis://ADDRESS:PORT), one exporter per host however many
// instances it runs. Clusters with ACL users are read as ovl's user, with passwords from a 0600
// file of the host that the targets' sync keeps in step with etcd.
import type { Runbook } from '../src/engine/runbook.js';
import { aptPackage } from '../src/ops/command.js';
import { directories } from '../src/ops/files.js';
import { restartHandler, service } from '../src/ops/service.js';
import { waitFor } from '../src/ops/wait.js';
import { etcdAccess, withEtcd } from '../src/state/etcd.js';
import { emptyView, fleetView, type FleetView } from '../src/monitoring/sync.js';
import { exporterPasswords, exporterTls, exporterPasswordsOp, REDIS_EXPORTER_DIR, REDIS_EXPORTER_LOG_DIR, redisExporterPort, redisExporterSpec } from '../src/monitoring/exporter.js';
import { exporterUp, packageServiceOff } from './exporters.js';

export const redisExporter: Runbook<FleetView> = {
  name: 'redis-exporter',
  summary: "redis_exporter on the host's address, multi-target, as ovl's user where clusters have ACL users (Debian's prometheus-redis-exporter; the package's own service off)",
  async prepare(comp) {
    return withEtcd(etcdAccess(comp.inv), fleetView).catch((e: Error) => {
      if (comp.check) return emptyView();
      throw new Error(`etcd does not answer, so the clusters' passwords cannot be read: ${e.message}`);
    });
  },
  host(h, comp, view) {
    const s = redisExporterSpec(h.host, exporterTls(comp.inv, h.host));
    return {
      operations: [
        aptPackage('prometheus-redis-exporter'),
        packageServiceOff('prometheus-redis-exporter.service', h),
        directories([REDIS_EXPORTER_DIR, REDIS_EXPORTER_LOG_DIR], { mode: 0o755 }),
        exporterPasswordsOp(exporterPasswords(h.host.name, view.plans, view.auths)),
        ...service(s, h, 'restart'),
      ],
      handlers: { restart: restartHandler(s, h) },
    };
  },
  after: (h) => [waitFor(`redis_exporter answers on ${h.host.address}:${redisExporterPort(h.host)}`, () => exporterUp(`${h.host.address}:${redisExporterPort(h.host)}`), 30_000, `${REDIS_EXPORTER_LOG_DIR}/redis-exporter.log`)],
};
