import { NodeSSH } from 'node-ssh';
import { readFileSync, statSync } from 'node:fs';
import { gzipped } from '../util/gzip-cache.js';
import { Readable } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import type { HostSpec } from '../inventory/types.js';
import { shq } from '../shell.js';
import { fingerprint, rememberHostKey, verifyHostKey } from './knownhosts.js';
import { Semaphore } from '../util/semaphore.js';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class HostKeyError extends Error {}

/** A command whose stdin stays open while its output arrives (Remote.open). */
export interface Session {
  write(data: string): void;
  /** Close stdin: the command reads end of file. */
  end(): void;
  /** Settles when the command has exited and its output is complete. */
  done: Promise<ExecResult>;
}

export interface ConnectOptions {
  acceptNewHostKeys: boolean;
  timeoutMs?: number;
}

// sshd allows 10 sessions per connection by default (MaxSessions); stay below it.
const MAX_CHANNELS = 8;

/** One SSH connection to one host, reused for the whole run. */
export class Remote {
  private readonly ssh = new NodeSSH();
  private readonly channels = new Semaphore(MAX_CHANNELS);
  private constructor(readonly host: HostSpec) {}

  static async connect(host: HostSpec, opts: ConnectOptions): Promise<Remote> {
    const r = new Remote(host);
    let keyProblem: HostKeyError | undefined;
    const { ssh: s } = host;
    const passphrase = s.passphraseEnv ? process.env[s.passphraseEnv] : undefined;
    if (s.passphraseEnv && passphrase === undefined) {
      throw new Error(`the key ${s.key} needs a passphrase: set the environment variable ${s.passphraseEnv}`);
    }
    try {
      await r.ssh.connect({
        host: host.address,
        port: s.port,
        username: s.user,
        privateKey: readFileSync(s.key, 'utf8'),
        passphrase,
        readyTimeout: opts.timeoutMs ?? 10_000,
        keepaliveInterval: 10_000,
        hostVerifier: (key: Buffer) => {
          const v = verifyHostKey(s.knownHosts, host.address, s.port, key);
          if (v.kind === 'match') return true;
          if (v.kind === 'unknown' && opts.acceptNewHostKeys) {
            rememberHostKey(s.knownHosts, host.address, s.port, key);
            return true;
          }
          keyProblem =
            v.kind === 'changed'
              ? new HostKeyError(
                  `HOST KEY CHANGED for ${host.name} (${host.address}:${s.port}): ${s.knownHosts}:${v.line} has ${v.expected}, ` +
                    `the host offers ${fingerprint(key)}. This may be an attack. If the host was reinstalled, ` +
                    `delete line ${v.line} of ${s.knownHosts} and re-run with --accept-new-host-keys.`,
                )
              : new HostKeyError(
                  `unknown host key for ${host.name} (${host.address}:${s.port}), fingerprint ${fingerprint(key)}, ` +
                    `not in ${s.knownHosts}. Check the fingerprint, then re-run with --accept-new-host-keys to record it.`,
                );
          return false;
        },
      });
    } catch (e) {
      if (keyProblem) throw keyProblem;
      throw new Error(`cannot connect to ${host.name} (${s.user}@${host.address}:${s.port}): ${(e as Error).message}`);
    }
    return r;
  }

  /** Run a POSIX sh script on the host. Never throws for a non-zero exit: the caller judges. */
  async exec(script: string, stdin?: string | Buffer): Promise<ExecResult> {
    return this.channels.run(async () => {
      const res = await this.ssh.execCommand(`exec /bin/sh -c ${shq(script)}`, {
        stdin: stdin === undefined ? undefined : typeof stdin === 'string' ? stdin : Readable.from([stdin]),
        noTrim: true,
      });
      return { code: res.code ?? 255, stdout: res.stdout, stderr: res.stderr };
    });
  }

  /**
   * Start a command and keep its stdin open: the caller writes to it when it chooses (a
   * script, then an answer to it, e.g. the word that releases a barrier across hosts) and sees
   * stdout as it arrives. The channel counts against the connection's limit until it closes.
   */
  open(command: string, onStdout: (text: string) => void): Session {
    let channel: ClientChannel | undefined;
    const pending: (string | null)[] = [];
    const send = (d: string | null) => (d === null ? channel!.end() : channel!.write(d));
    const done = this.channels.run(
      () =>
        new Promise<ExecResult>((resolve, reject) => {
          const conn = this.ssh.connection;
          if (!conn) return reject(new Error(`not connected to ${this.host.name}`));
          conn.exec(command, (err, ch) => {
            if (err) return reject(err);
            channel = ch;
            let stdout = '';
            let stderr = '';
            let code = 255;
            ch.setEncoding('utf8');
            ch.stderr.setEncoding('utf8');
            ch.on('data', (text: string) => {
              stdout += text;
              onStdout(text);
            });
            ch.stderr.on('data', (text: string) => (stderr += text));
            ch.on('exit', (c: number | null) => (code = c ?? 255));
            ch.on('close', () => resolve({ code, stdout, stderr }));
            for (const d of pending.splice(0)) send(d);
          });
        }),
    );
    const queue = (d: string | null) => (channel ? send(d) : pending.push(d));
    return { write: (d) => void queue(d), end: () => void queue(null), done };
  }

  /** exec() that throws with the command's stderr when it fails. */
  async run(script: string, stdin?: string | Buffer): Promise<string> {
    const r = await this.exec(script, stdin);
    if (r.code !== 0) throw new Error(`exit ${r.code}: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
    return r.stdout;
  }

  /**
   * Copy a local file over SFTP to an exact remote path (the caller makes it atomic). Files
   * over 1 MiB travel gzip-compressed and are unpacked on the host: SFTP through the SSH
   * library runs at tens of MB/s, and binaries compress to a third.
   */
  async upload(local: string, remotePath: string, o: { secret?: boolean } = {}): Promise<void> {
    // A secret (an etcd snapshot) is sent as it is: the compressed copy is cached on this machine.
    if (o.secret || statSync(local).size <= 1 << 20) {
      await this.channels.run(() => this.ssh.putFile(local, remotePath));
      return;
    }
    const gz = await gzipped(local);
    await this.channels.run(() => this.ssh.putFile(gz, `${remotePath}.gz`));
    await this.run(`gzip -dc ${shq(`${remotePath}.gz`)} > ${shq(remotePath)} && rm -f ${shq(`${remotePath}.gz`)}`);
  }

  /** Copy a remote file over SFTP to a local path. */
  async download(remotePath: string, local: string): Promise<void> {
    await this.channels.run(() => this.ssh.getFile(local, remotePath));
  }

  get connected(): boolean {
    return this.ssh.isConnected();
  }

  close(): void {
    this.ssh.dispose();
  }
}
