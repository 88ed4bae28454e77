// CLI conventions a new user tries first, run as the user runs them (the compiled bin/ovl.js):
// --version, and `ovl inventory check` validating with no connection.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { projectRoot } from '../../src/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'ovl-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ovl = (...args: string[]) => {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'ovl.js'), ...args], { encoding: 'utf8', cwd: dir });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

test('ovl --version prints the package version', () => {
  const r = ovl('--version');
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version);
  // A command's own --version (the cache version) is the command's, not ovl's.
  const upgrade = ovl('cluster', 'upgrade', 'orders', '--version', '7.2.4', '-i', join(dir, 'none.yml'));
  assert.equal(upgrade.code, 1);
  assert.equal(upgrade.stdout, '');
  assert.match(upgrade.stderr, /none\.yml: cannot read the inventory/);
});

test('ovl inventory check: a valid inventory says so; a bad one names file:line:column and the fix, exit 1, no connection', () => {
  const good = join(dir, 'good.yml');
  writeFileSync(join(dir, 'id_test'), '');
  const text = `vars:\n  ssh: { key: id_test }\nhosts:\n  - name: c1\n    address: 10.20.0.11\ncomponents: [data-layout]\nserver:\n  data-layout: all\n`;
  writeFileSync(good, text);
  const ok = ovl('inventory', 'check', good);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), `${good}: valid: 1 host, components data-layout`);
  const bad = join(dir, 'bad.yml');
  writeFileSync(bad, text.replace('address: 10.20.0.11', 'address: 10.20.0.300'));
  const no = ovl('inventory', 'check', bad);
  assert.equal(no.code, 1);
  assert.match(no.stderr, new RegExp(`^${bad.replace(/[.]/g, '\\.')}:5:\\d+: .*10\\.20\\.0\\.300`, 'm'));
  assert.match(no.stderr, /^  fix: /m);
  assert.doesNotMatch(no.stderr, /Nothing was changed/, 'a check changes nothing by itself: no need to say so');
});

test('cluster delete without --yes and without a terminal refuses before anything is read or changed', () => {
  const r = ovl('cluster', 'delete', 'orders', '-i', join(dir, 'none.yml'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^ovl: cluster delete orders removes its data: give --yes to confirm \(there is no terminal to ask on\)$/m);
  assert.match(r.stderr, /Nothing was changed/);
  assert.match(ovl('cluster', 'delete', '--help').stdout, /Examples:\n {2}ovl cluster delete orders {12}# asks you to type the name/);
});

test('cluster commands read an inventory whose release binaries are not on this machine (a laptop): only etcd is needed', () => {
  const inv = join(dir, 'laptop.yml');
  writeFileSync(
    inv,
    `vars:\n  ssh: { key: /nonexistent/key }\n  etcd_tls: false\nartifacts:\n  etcd:\n    - version: "3.4.23"\n      files: { etcd: /nonexistent/etcd, etcdctl: /nonexistent/etcdctl }\n  redis:\n    - version: "7.0.15"\n      files: { redis-server: /nonexistent/redis-server, redis-cli: /nonexistent/redis-cli }\nhosts:\n  - name: c1\n    address: 127.77.0.1\ncomponents: [data-layout, etcd, cache-binaries]\nserver:\n  data-layout: all\n  etcd: [c1]\n  cache-binaries: all\n`,
  );
  assert.match(ovl('inventory', 'check', inv).stderr, /release binary|not found: \/nonexistent/, 'bootstrap\'s check names the missing files');
  const r = ovl('cluster', 'list', '-i', inv);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^ovl: etcd does not answer at http:\/\/127\.77\.0\.1:2379 /m);
  assert.doesNotMatch(r.stderr, /nonexistent/);
});

test('with --json (or -o json) an error is a JSON object on stderr with its stable code', () => {
  for (const flags of [['--json'], ['-o', 'json']]) {
    const r = ovl('cluster', 'list', ...flags, '-i', join(dir, 'missing.yml'));
    assert.equal(r.code, 1);
    const e = JSON.parse(r.stderr.trim()) as { error: { code: string; message: string } };
    assert.equal(e.error.code, 'INVENTORY');
    assert.match(e.error.message, /missing\.yml/);
  }
  const d = ovl('cluster', 'delete', 'orders', '--json', '-i', join(dir, 'none.yml'));
  assert.deepEqual(JSON.parse(d.stderr.trim()), { error: { code: 'USAGE', message: 'cluster delete orders removes its data: give --yes to confirm (there is no terminal to ask on)' } });
});

test('cluster create names every problem it can judge alone before reaching etcd', () => {
  const r = ovl('cluster', 'create', 'Orders', '--type', 'redis-cluster', '--maxmemory', '256', '-i', join(dir, 'none.yml'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cluster name "Orders": 1-63 characters.* \(orders\?\)/);
  assert.match(r.stderr, /--type redis-cluster: one of redis_cluster, redis, memcache \(redis_cluster\?\)/);
  assert.match(r.stderr, /--maxmemory 256: write a unit, e\.g\. 256mb/);
  assert.doesNotMatch(r.stderr, /none\.yml|etcd/, 'neither the inventory nor etcd was read');
});

test("every command's --help ends with examples (the command tree read from the help itself)", () => {
  const sub = (path: string[]): [string[], string][] => {
    const help = ovl(...path, '--help').stdout;
    const block = help.split(/\nCommands:\n/)[1];
    if (!block) return [[path, help]];
    const names = block.split('\n').map((l) => /^ {2}(\S+)/.exec(l)?.[1]).filter((n): n is string => !!n && n !== 'help');
    return names.flatMap((n) => sub([...path, n]));
  };
  const leaves = sub([]);
  assert.ok(leaves.length >= 20, `${leaves.length} commands`);
  for (const [path, help] of leaves) assert.match(help, /\nExamples:\n {2}ovl /, `ovl ${path.join(' ')} --help`);
});

test('ovl completion bash completes commands and the options of the command typed, from the command tree', () => {
  const script = join(dir, 'ovl.bash');
  writeFileSync(script, ovl('completion', 'bash').stdout);
  const complete = (...words: string[]) => {
    const r = spawnSync('bash', ['-c', `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _ovl; echo "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
    return r.stdout.trim().split(' ');
  };
  assert.deepEqual(complete('ovl', 'cluster', 'cr'), ['create']);
  assert.deepEqual(complete('ovl', 'cluster', 'create', 'orders', '--type', 'redis_cluster', '--ma').sort(), ['--masters', '--maxmemory']);
  assert.ok(complete('ovl', '').includes('bootstrap') && complete('ovl', '').includes('completion'));
  assert.deepEqual(complete('ovl', 'cluster', 'delete', 'x', '--y'), ['--yes']);
  assert.match(ovl('completion', 'zsh').stdout, /^autoload -U \+X bashcompinit && bashcompinit$/m);
  assert.equal(ovl('completion', 'fish').code, 1);
});

test('-q on every command: nothing but data and errors; the exit code says the rest', () => {
  const good = join(dir, 'quiet.yml');
  writeFileSync(join(dir, 'id_test'), '');
  writeFileSync(good, `vars:\n  ssh: { key: id_test }\nhosts:\n  - name: c1\n    address: 10.20.0.11\ncomponents: [data-layout]\nserver:\n  data-layout: all\n`);
  const q = ovl('inventory', 'check', good, '-q');
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.stdout, '');
  const bad = ovl('cluster', 'delete', 'orders', '-q', '-i', join(dir, 'none.yml'));
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /give --yes/);
  const help = ovl('cluster', 'scale', '--help').stdout;
  assert.match(help, /-q, --quiet/);
  assert.match(help, /-v, --verbose/);
});

test('$OVL_ETCD_ENDPOINTS: the read-only cluster commands reach etcd without an inventory; the others still need one', () => {
  const env = (vars: Record<string, string>, ...args: string[]) => {
    const { OVL_INVENTORY: _, ...rest } = process.env;
    const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'ovl.js'), ...args], { encoding: 'utf8', cwd: dir, env: { ...rest, ...vars } });
    return { code: r.status, stderr: r.stderr };
  };
  const list = env({ OVL_ETCD_ENDPOINTS: 'http://127.77.0.2:2379' }, 'cluster', 'list');
  assert.equal(list.code, 1);
  assert.match(list.stderr, /^ovl: etcd does not answer at http:\/\/127\.77\.0\.2:2379 /m);
  assert.match(env({ OVL_ETCD_ENDPOINTS: 'https://127.77.0.2:2379', OVL_PKI_DIR: dir }, 'cluster', 'list').stderr, /needs the client certificate: .*ca\.crt is missing/);
  assert.match(env({ OVL_ETCD_ENDPOINTS: '10.0.0.1' }, 'cluster', 'check', '--all').stderr, /"10\.0\.0\.1" is not an etcd client URL/);
  assert.match(env({ OVL_ETCD_ENDPOINTS: 'http://127.77.0.2:2379' }, 'cluster', 'delete', 'x', '--yes').stderr, /cannot read the inventory/);
});
