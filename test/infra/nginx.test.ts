/**
 * infra/nginx/tls-termination.conf: Debian's nginx accepts it (`nginx -t`), and, run in front of
 * the real service with only its ports and certificate paths changed, it terminates TLS and
 * passes pages, the API, HLS (with the service's Cache-Control) and the signaling WebSocket
 * upgrade through; port 80 redirects to https. Skips with the reason where nginx is missing.
 *
 * Run: node scripts/test.mjs test/infra/nginx.test.ts
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serviceClient, startService, type RunningService } from '../support/service.ts';
import { makeTestCertificates, trustInThisProcess } from '../support/testCertificates.ts';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/wait.ts';
import { connectClient, tryConnect } from '../support/wsClient.ts';

const CONF = fileURLToPath(new URL('../../infra/nginx/tls-termination.conf', import.meta.url));
const NGINX = process.env.NGINX_PATH ?? 'nginx';
const nginxMissing = spawnSync(NGINX, ['-v']).error ? `${NGINX} not found (Debian: apt-get install nginx)` : false;

/** The shipped file with only what a deployment edits changed: upstream port, listen addresses, certificate paths. */
function render(upstreamPort: number, httpPort: number, httpsPort: number, certFile: string, keyFile: string): string {
  const conf = readFileSync(CONF, 'utf8');
  const out = conf
    .replace(/server 127\.0\.0\.1:8080;/, `server 127.0.0.1:${upstreamPort};`)
    .replace(/listen 80;/, `listen 127.0.0.1:${httpPort};`)
    .replace(/listen 443 ssl http2;/, `listen 127.0.0.1:${httpsPort} ssl http2;`)
    .replace(/^\s*listen \[::\]:\d+.*$/gm, '')
    .replace(/ssl_certificate\s+\S+;/, `ssl_certificate ${certFile};`)
    .replace(/ssl_certificate_key\s+\S+;/, `ssl_certificate_key ${keyFile};`);
  for (const edit of [`127.0.0.1:${upstreamPort}`, `127.0.0.1:${httpPort};`, `127.0.0.1:${httpsPort} ssl`, certFile, keyFile]) {
    assert.ok(out.includes(edit), `the config still has the line that ${edit} replaces`);
  }
  return out;
}

describe('nginx TLS termination (infra/nginx/tls-termination.conf)', { skip: nginxMissing }, () => {
  let dir: string;
  let svc: RunningService;
  let nginx: ChildProcess | undefined;
  let mainConf: string;
  let edge: ReturnType<typeof serviceClient>;
  let httpPort: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stagecast-nginx-'));
    const certs = makeTestCertificates(dir);
    trustInThisProcess(certs.caPem);
    svc = await startService({});
    const upstreamPort = Number(new URL(svc.url).port);
    httpPort = await freePort();
    const httpsPort = await freePort();
    writeFileSync(join(dir, 'site.conf'), render(upstreamPort, httpPort, httpsPort, certs.certFile, certs.keyFile));
    mainConf = join(dir, 'nginx.conf');
    // One foreground process as this user, everything it writes inside `dir`; the site file is included as Debian's nginx.conf includes sites-enabled.
    writeFileSync(
      mainConf,
      [
        'daemon off;',
        'master_process off;',
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log;`,
        'events {}',
        'http {',
        '  access_log off;',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
        `  include ${dir}/site.conf;`,
        '}',
        '',
      ].join('\n'),
    );
    edge = serviceClient(`https://127.0.0.1:${httpsPort}`, svc.apiKey);
  });

  after(async () => {
    if (nginx && nginx.exitCode === null) {
      nginx.kill('SIGQUIT');
      await once(nginx, 'exit');
    }
    assert.equal(await svc?.stop(), 0, 'service exits 0 on SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('parses with nginx -t', () => {
    const res = spawnSync(NGINX, ['-t', '-c', mainConf, '-p', dir], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stderr, /test is successful/);
  });

  it('terminates TLS for pages, the API, HLS and the signaling WebSocket', async () => {
    nginx = spawn(NGINX, ['-c', mainConf, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    nginx.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor('nginx to answer over https', 10000, () => fetch(`${edge.url}/healthz`).then((r) => r.status, () => 0), { until: (s) => s === 200 }).catch((err: Error) => {
      throw new Error(`${err.message}\nnginx: ${stderr}${readFileSync(join(dir, 'error.log'), 'utf8')}`);
    });

    const room = await edge.createRoom();
    assert.equal((await edge.api(`/api/rooms/${room}`)).status, 200, 'API with the key, through the proxy');
    assert.equal((await fetch(`${edge.url}/api/rooms/${room}`)).status, 401, 'and refused without it');
    const watch = await fetch(`${edge.url}/watch`);
    assert.equal(watch.status, 200, 'pages');

    // No broadcast yet: the origin's own answer, headers and all, comes through.
    const direct = await fetch(`${svc.url}/hls/${room}/index.m3u8`);
    const proxied = await fetch(`${edge.url}/hls/${room}/index.m3u8`);
    assert.equal(proxied.status, direct.status);
    assert.equal(proxied.headers.get('cache-control'), direct.headers.get('cache-control'), 'HLS Cache-Control passed through');
    assert.equal(proxied.headers.get('access-control-allow-origin'), direct.headers.get('access-control-allow-origin'), 'HLS CORS passed through');

    // Signaling: a refused token is the service's HTTP refusal; a good one upgrades over wss and joins.
    const refusal = await tryConnect(edge.url, `token=not-a-jwt&room=${room}`);
    assert.ok('status' in refusal && refusal.status === 401, `refusal passed through: ${JSON.stringify(refusal)}`);
    const client = await connectClient(edge.url, await edge.token(room, 'via-nginx', 'viewer'), { join: true });
    assert.equal(client.joined.type, 'joined');
    await client.close();
  });

  it('redirects plain http to https', async () => {
    const res = await new Promise<{ status?: number; location?: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: httpPort, path: '/watch?room=x', headers: { host: 'stage.example.com' } }, (r) => {
        r.resume();
        resolve({ status: r.statusCode, location: r.headers.location });
      })
        .on('error', reject)
        .end();
    });
    assert.equal(res.status, 301);
    assert.equal(res.location, 'https://stage.example.com/watch?room=x');
  });
});
