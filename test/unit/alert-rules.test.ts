// The alert rules ovl ships (templates/prometheus/ovl.rules.yml), checked and unit-tested by
// Prometheus's own promtool: each alert fires on the series a failure leaves, after its `for`,
// with the summary an on-call engineer reads, and not on a healthy node's series.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { test } from 'node:test';
import { projectRoot } from '../../src/paths.js';

function promtool(args: string[], cwd = projectRoot) {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is missing (Debian's prometheus package): bash scripts/setup.sh installs it (${r.error.message})`);
  return r;
}

test('the shipped alert rules are valid Prometheus rules', () => {
  const r = promtool(['check', 'rules', 'templates/prometheus/ovl.rules.yml']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS: 18 rules found/);
});

test('promtool test rules: every alert fires on its failure, with its summary, and not on a healthy fleet', () => {
  const r = promtool(['test', 'rules', 'ovl.rules.test.yml'], join(projectRoot, 'test', 'monitoring'));
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS/);
  // Every shipped alert has a case where it fires.
  const rules = parse(readFileSync(join(projectRoot, 'templates', 'prometheus', 'ovl.rules.yml'), 'utf8')) as { groups: { rules: { alert: string }[] }[] };
  const cases = parse(readFileSync(join(projectRoot, 'test', 'monitoring', 'ovl.rules.test.yml'), 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
  const fired = new Set(cases.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length).map((a) => a.alertname)));
  for (const alert of rules.groups.flatMap((g) => g.rules.map((x) => x.alert))) assert.ok(fired.has(alert), `${alert} fires in a case of ovl.rules.test.yml`);
});
