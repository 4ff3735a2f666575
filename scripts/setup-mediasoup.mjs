// Root postinstall: puts mediasoup's prebuilt worker binary where mediasoup looks for it
// (node_modules/mediasoup/worker/out/Release/mediasoup-worker). mediasoup's own install script
// is denied in package.json's allowScripts, because where its download fails it falls back to
// building the worker from source (Python, meson, a C++ toolchain, more downloads). This
// script only downloads, and never fails the install: without a worker, ENGINE=auto uses the
// embedded engine.
//
// Environment:
//   MEDIASOUP_WORKER_BIN                         set: skip (that binary is used instead)
//   MEDIASOUP_SKIP_WORKER_DOWNLOAD=1             skip
//   MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL  release base URL (mediasoup's own variable);
//                                                default https://github.com/versatica/mediasoup/releases/download
//   MEDIASOUP_WORKER_INSTALL_DIR                 install somewhere else (tests only)
//
// Plain JavaScript that also runs on Node 20: npm may run it with the system Node.
/* global fetch, AbortSignal */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const DEFAULT_BASE_URL = 'https://github.com/versatica/mediasoup/releases/download';
const DOWNLOAD_TIMEOUT_MS = 20_000;
const BIN_NAME = 'mediasoup-worker';
// mediasoup-worker started without MEDIASOUP_VERSION exits with this code: proof that the
// binary loads on this host (right libc, right architecture).
const EXIT_CODE_WITHOUT_VERSION = 41;

class NotInstalled extends Error {}

async function main() {
  if (process.env.MEDIASOUP_WORKER_BIN) {
    return `mediasoup worker: MEDIASOUP_WORKER_BIN is set (${process.env.MEDIASOUP_WORKER_BIN}), skipping the download`;
  }
  if (process.env.MEDIASOUP_SKIP_WORKER_DOWNLOAD === '1') {
    return 'mediasoup worker: MEDIASOUP_SKIP_WORKER_DOWNLOAD=1, skipping the download';
  }

  const packageDir = mediasoupPackageDir();
  const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
  const installDir = process.env.MEDIASOUP_WORKER_INSTALL_DIR || path.join(packageDir, 'worker', 'out', 'Release');
  const bin = path.join(installDir, BIN_NAME);
  if (existsSync(bin)) return `mediasoup worker: already installed at ${bin}`;

  const url = prebuiltUrl(version);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mediasoup-worker-'));
  try {
    const tarball = path.join(tmp, 'worker.tgz');
    writeFileSync(tarball, await download(url));

    const extracted = path.join(tmp, 'out');
    mkdirSync(extracted);
    const tar = spawnSync('tar', ['-xzf', tarball, '-C', extracted], { encoding: 'utf8', timeout: 30_000 });
    if (tar.error) throw new NotInstalled(`cannot run tar: ${tar.error.message}`);
    if (tar.status !== 0) throw new NotInstalled(`tar failed on ${url}: ${tar.stderr.trim().split('\n')[0] || `exit ${tar.status}`}`);
    const fetched = path.join(extracted, BIN_NAME);
    if (!existsSync(fetched)) throw new NotInstalled(`${url} holds no ${BIN_NAME}`);
    chmodSync(fetched, 0o755);
    checkRuns(fetched);

    // Copy next to the target, then rename: a half-written binary is never picked up.
    mkdirSync(installDir, { recursive: true });
    const partial = `${bin}.partial`;
    copyFileSync(fetched, partial);
    chmodSync(partial, 0o755);
    renameSync(partial, bin);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (!existsSync(bin)) throw new NotInstalled(`${bin} missing after install`);
  return `mediasoup worker installed: ${bin} (from ${url})`;
}

/** mediasoup's package folder. Its exports map hides package.json, so start from its main file. */
function mediasoupPackageDir() {
  let dir;
  try {
    dir = path.dirname(createRequire(import.meta.url).resolve('mediasoup'));
  } catch {
    throw new NotInstalled('the mediasoup package is not installed');
  }
  for (; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).name === 'mediasoup') return dir;
  }
  throw new NotInstalled('the mediasoup package has no package.json');
}

/** mediasoup's naming: mediasoup-worker-VERSION-PLATFORM-ARCH[-kernelMAJOR on Linux].tgz */
function prebuiltUrl(version) {
  const base = (process.env.MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL || DEFAULT_BASE_URL).replace(/\/+$/, '');
  let name = `${BIN_NAME}-${version}-${os.platform()}-${os.arch()}`;
  if (os.platform() === 'linux') name += `-kernel${Number(os.release().split('.')[0])}`;
  return `${base}/${version}/${name}.tgz`;
}

async function download(url) {
  // One deadline for connecting and reading the body alike.
  const signal = AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS);
  try {
    const res = await fetch(url, { signal, redirect: 'follow' });
    if (!res.ok) {
      await res.body?.cancel();
      throw new NotInstalled(res.status === 404 ? `no prebuilt worker for this platform (404 from ${url})` : `HTTP ${res.status} from ${url}`);
    }
    return Buffer.from(await res.arrayBuffer());
  } catch (error) {
    if (error instanceof NotInstalled) throw error;
    if (signal.aborted) throw new NotInstalled(`download timed out after ${DOWNLOAD_TIMEOUT_MS / 1000} s (${url})`);
    const cause = error?.cause;
    const detail = cause?.code ?? cause?.message ?? error?.message ?? String(error);
    throw new NotInstalled(`cannot download ${url} (${detail})`);
  }
}

function checkRuns(bin) {
  const run = spawnSync(bin, [], { env: {}, stdio: 'ignore', timeout: 10_000 });
  if (run.error) throw new NotInstalled(`the prebuilt worker does not start on this host (${run.error.message})`);
  if (run.status !== EXIT_CODE_WITHOUT_VERSION) {
    throw new NotInstalled(`the prebuilt worker does not run on this host (exit ${run.status ?? run.signal})`);
  }
}

try {
  console.log(await main());
} catch (error) {
  const reason = error instanceof NotInstalled ? error.message : `unexpected error: ${error?.message ?? error}`;
  console.log(`mediasoup worker not installed: ${reason}; the embedded engine will be used (ENGINE=auto)`);
}
process.exitCode = 0;
