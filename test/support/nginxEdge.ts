/**
 * infra/nginx/edge.conf (or edge-lua.conf) run by Debian's nginx as this user, for the edge
 * test and bench/hls-fanout: the shipped file with only what a deployment edits changed (the
 * upstream servers, the listen address, the cache folder, the Lua folder), under a main config
 * of our own that keeps everything inside one temporary folder.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.ts';

const INFRA = fileURLToPath(new URL('../../infra/nginx/', import.meta.url));
export const NGINX = process.env.NGINX_PATH ?? 'nginx';
const MODULES = process.env.NGINX_MODULES_PATH ?? '/usr/lib/nginx/modules';

/** `lock`: edge.conf (nginx's proxy_cache_lock); `lua`: edge-lua.conf (Lua request collapsing). */
export type EdgeVariant = 'lock' | 'lua';
const CONF: Record<EdgeVariant, string> = { lock: 'edge.conf', lua: 'edge-lua.conf' };

/** Why nginx cannot run here, or false. */
export function nginxMissing(): string | false {
  return spawnSync(NGINX, ['-v']).error ? `${NGINX} not found (Debian: apt-get install nginx)` : false;
}

/** Why the Lua variant cannot run here, or false. */
export function luaMissing(): string | false {
  const missing = nginxMissing();
  if (missing) return missing;
  return existsSync(join(MODULES, 'ngx_http_lua_module.so')) ? false : `nginx's Lua module not found in ${MODULES} (Debian: apt-get install libnginx-mod-http-lua)`;
}

/** The variant's config with its upstream servers, listen port, cache and Lua folders replaced. */
export function renderEdgeConf(variant: EdgeVariant, upstreams: string[], port: number, cacheDir: string): string {
  const conf = readFileSync(join(INFRA, CONF[variant]), 'utf8');
  const out = conf
    .replace(/lua_package_path "\/etc\/nginx\/stagecast-lua\//, `lua_package_path "${join(INFRA, 'lua')}/`)
    .replace(/^(\s*)server 127\.0\.0\.1:8080;$/m, (_, indent: string) => upstreams.map((u) => `${indent}server ${u};`).join('\n'))
    .replace(/listen 80;/, `listen 127.0.0.1:${port} backlog=4096;`)
    .replace(/^\s*listen \[::\]:\d+;$/gm, '')
    .replace(/proxy_cache_path \/var\/cache\/nginx\/stagecast /, `proxy_cache_path ${cacheDir} `);
  const edits = [...upstreams.map((u) => `server ${u};`), `listen 127.0.0.1:${port} `, `proxy_cache_path ${cacheDir} `];
  if (variant === 'lua') edits.push(`lua_package_path "${join(INFRA, 'lua')}/`);
  for (const edit of edits) {
    assert.ok(out.includes(edit), `the config still has the line that ${edit} replaces`);
  }
  return out;
}

export interface RunningNginx {
  port: number;
  dir: string;
  mainConf: string;
  master: ChildProcess;
  /** The worker processes' pids at start (for their CPU in /proc). */
  workerPids: number[];
  /** The worker processes' pids now (a worker that died was replaced under another pid). */
  workers(): number[];
  /** What nginx wrote to its error log so far. */
  errorLog(): string;
  /** Graceful stop (SIGQUIT), SIGKILL after 5 s. Idempotent. */
  close(): Promise<void>;
}

export interface EdgeOptions {
  /** host:port of each origin node. */
  upstreams: string[];
  /** Default `lock`. */
  variant?: EdgeVariant;
  /** Working folder of this nginx (config, cache, temp files, logs); must exist. */
  dir: string;
  /** Default 1, like the origin's one event loop. */
  workerProcesses?: number;
  /** Default 4096. */
  workerConnections?: number;
  /** Access log to `dir/access.log` with the cache status. Default off. */
  accessLog?: boolean;
}

/** The main config: one process tree as this user, everything it writes inside `dir`. */
export function writeEdgeConfig(options: EdgeOptions, port: number): string {
  const { dir } = options;
  const workerConnections = options.workerConnections ?? 4096;
  mkdirSync(join(dir, 'cache'), { recursive: true });
  const variant = options.variant ?? 'lock';
  writeFileSync(join(dir, 'edge.conf'), renderEdgeConf(variant, options.upstreams, port, join(dir, 'cache')));
  const mainConf = join(dir, 'nginx.conf');
  writeFileSync(
    mainConf,
    [
      // Debian's nginx.conf loads these through /etc/nginx/modules-enabled.
      ...(variant === 'lua' ? ['ndk_http_module.so', 'ngx_http_lua_module.so'].map((m) => `load_module ${join(MODULES, m)};`) : []),
      'daemon off;',
      'master_process on;',
      `worker_processes ${options.workerProcesses ?? 1};`,
      ...(process.getuid?.() === 0 ? ['user root root;'] : []),
      `worker_rlimit_nofile ${workerConnections * 2 + 100};`,
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log warn;`,
      `events { worker_connections ${workerConnections}; }`,
      'http {',
      options.accessLog ? `  log_format edge '$request_uri $status $upstream_cache_status';\n  access_log ${dir}/access.log edge;` : '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
      `  include ${dir}/edge.conf;`,
      '}',
      '',
    ].join('\n'),
  );
  return mainConf;
}

/** `nginx -t` of the rendered config: status and output. */
export function testEdgeConfig(options: EdgeOptions): { status: number | null; output: string } {
  const mainConf = writeEdgeConfig(options, 1);
  const res = spawnSync(NGINX, ['-t', '-c', mainConf, '-p', options.dir, '-e', join(options.dir, 'error.log')], { encoding: 'utf8' });
  return { status: res.status, output: res.stderr };
}

export async function startEdge(options: EdgeOptions): Promise<RunningNginx> {
  const port = await freePort();
  const mainConf = writeEdgeConfig(options, port);
  const { dir } = options;
  const master = spawn(NGINX, ['-c', mainConf, '-p', dir, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  master.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => master.once('exit', () => resolve()));
  const close = async () => {
    if (master.exitCode === null && master.signalCode === null) {
      master.kill('SIGQUIT');
      const timer = setTimeout(() => master.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    const want = options.workerProcesses ?? 1;
    const workerPids = await waitFor('nginx workers', 10_000, () => childPids(master.pid!), { until: (pids) => pids.length >= want && master.exitCode === null });
    await waitFor('nginx listening', 10_000, () => fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false));
    return { port, dir, mainConf, master, workerPids, workers: () => childPids(master.pid!), errorLog: () => readLog(dir), close };
  } catch (err) {
    await close();
    throw new Error(`${(err as Error).message}\nnginx: ${stderr}${readLog(dir)}`, { cause: err });
  }
}

function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'error.log'), 'utf8');
  } catch {
    return ''; // no log yet
  }
}

function childPids(pid: number): number[] {
  const res = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return res.stdout
    .split('\n')
    .map(Number)
    .filter((n) => n > 0);
}
