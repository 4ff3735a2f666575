import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// Runs scripts/setup-mediasoup.mjs (the root postinstall) against a release server on
// loopback that serves a stand-in worker: a shell script exiting 41, as the real worker does
// when started without MEDIASOUP_VERSION.
const SCRIPT = fileURLToPath(new URL('../../scripts/setup-mediasoup.mjs', import.meta.url));
const MEDIASOUP_VERSION = (JSON.parse(readFileSync(fileURLToPath(new URL('../../node_modules/mediasoup/package.json', import.meta.url)), 'utf8')) as { version: string }).version;
const TARBALL_NAME = `mediasoup-worker-${MEDIASOUP_VERSION}-${os.platform()}-${os.arch()}${os.platform() === 'linux' ? `-kernel${Number(os.release().split('.')[0])}` : ''}.tgz`;

interface Run {
  code: number | null;
  stdout: string;
}

function runSetup(env: Record<string, string>): Promise<Run> {
  const inherited = { ...process.env };
  for (const key of Object.keys(inherited)) if (key.startsWith('MEDIASOUP_')) delete inherited[key];
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [SCRIPT], { env: { ...inherited, ...env }, timeout: 30_000 }, (_err, stdout) => {
      resolve({ code: child.exitCode, stdout });
    });
  });
}

/** A .tgz holding one file named mediasoup-worker with this shell body, made with the system tar. */
function makeTarball(dir: string, name: string, body: string): Buffer {
  const src = path.join(dir, `${name}-src`);
  mkdirSync(src);
  writeFileSync(path.join(src, 'mediasoup-worker'), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  const file = path.join(dir, `${name}.tgz`);
  const tar = spawnSync('tar', ['-czf', file, '-C', src, 'mediasoup-worker']);
  assert.equal(tar.status, 0, String(tar.stderr));
  return readFileSync(file);
}

describe('scripts/setup-mediasoup.mjs', () => {
  let dir: string;
  let server: Server;
  let baseUrl: string;
  let closedPortUrl: string;
  const requests: string[] = [];
  const releases = new Map<string, Buffer>();

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'setup-mediasoup-'));
    releases.set('good', makeTarball(dir, 'good', 'exit 41'));
    releases.set('broken', makeTarball(dir, 'broken', 'exit 1'));
    releases.set('empty', makeTarball(dir, 'empty', 'exit 41').subarray(0, 20));
    // /<release>/<version>/<tarball>: each release name is a different download base URL.
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const [, release, version, name] = (req.url ?? '').split('/');
      const body = releases.get(release ?? '');
      if (body && version === MEDIASOUP_VERSION && name === TARBALL_NAME) {
        res.writeHead(200, { 'content-type': 'application/gzip' }).end(body);
      } else {
        res.writeHead(404).end('not found');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    closedPortUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const installDir = (name: string) => path.join(dir, 'install', name, 'worker', 'out', 'Release');

  it('downloads, extracts and installs an executable worker, then skips when it is there', async () => {
    const target = installDir('good');
    const run = await runSetup({ MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL: `${baseUrl}/good`, MEDIASOUP_WORKER_INSTALL_DIR: target });
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^mediasoup worker installed: /);
    assert.ok(requests.includes(`/good/${MEDIASOUP_VERSION}/${TARBALL_NAME}`), requests.join(', '));
    const bin = path.join(target, 'mediasoup-worker');
    accessSync(bin, constants.X_OK);
    assert.equal(spawnSync(bin).status, 41);

    const before = requests.length;
    const again = await runSetup({ MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL: `${baseUrl}/good`, MEDIASOUP_WORKER_INSTALL_DIR: target });
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already installed/);
    assert.equal(requests.length, before);
  });

  it('skips at once when MEDIASOUP_WORKER_BIN or MEDIASOUP_SKIP_WORKER_DOWNLOAD=1 is set', async () => {
    const before = requests.length;
    const common = { MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL: `${baseUrl}/good`, MEDIASOUP_WORKER_INSTALL_DIR: installDir('skipped') };
    const withBin = await runSetup({ ...common, MEDIASOUP_WORKER_BIN: '/opt/mediasoup-worker' });
    assert.equal(withBin.code, 0);
    assert.match(withBin.stdout, /MEDIASOUP_WORKER_BIN is set/);
    const skipped = await runSetup({ ...common, MEDIASOUP_SKIP_WORKER_DOWNLOAD: '1' });
    assert.equal(skipped.code, 0);
    assert.match(skipped.stdout, /MEDIASOUP_SKIP_WORKER_DOWNLOAD=1/);
    assert.equal(requests.length, before);
    assert.equal(existsSync(installDir('skipped')), false);
  });

  const failures: [string, () => string, RegExp][] = [
    ['the server has no such release (404)', () => `${baseUrl}/missing`, /no prebuilt worker for this platform \(404/],
    ['the server is unreachable', () => closedPortUrl, /cannot download .* \(ECONNREFUSED\)/],
    ['the tarball is truncated', () => `${baseUrl}/empty`, /tar failed/],
    ['the worker does not run on this host', () => `${baseUrl}/broken`, /does not run on this host \(exit 1\)/],
  ];
  for (const [what, base, reason] of failures) {
    it(`exits 0 and installs nothing when ${what}`, async () => {
      const target = installDir(what.replace(/\W+/g, '-'));
      const run = await runSetup({ MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL: base(), MEDIASOUP_WORKER_INSTALL_DIR: target });
      assert.equal(run.code, 0);
      assert.match(run.stdout, /^mediasoup worker not installed: .*; the embedded engine will be used \(ENGINE=auto\)\n$/);
      assert.match(run.stdout, reason);
      assert.equal(existsSync(path.join(target, 'mediasoup-worker')), false);
    });
  }
});
