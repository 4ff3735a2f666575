import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../services/core/config.ts';
import { UnsupportedError } from '../../services/core/errors.ts';
import { bundledMediasoupWorkerPath, chooseEngine, mediasoupOptions } from '../../services/engine/index.ts';

// Only the choice is tested here, with stand-in files for the worker binary: nothing starts.
describe('engine choice', () => {
  let dir: string;
  let worker: string;
  let otherWorker: string;
  let notExecutable: string;
  let missing: string;

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'engine-choice-'));
    worker = path.join(dir, 'mediasoup-worker');
    otherWorker = path.join(dir, 'custom-worker');
    notExecutable = path.join(dir, 'not-executable');
    missing = path.join(dir, 'missing');
    for (const file of [worker, otherWorker, notExecutable]) writeFileSync(file, '#!/bin/sh\nexit 41\n');
    chmodSync(worker, 0o755);
    chmodSync(otherWorker, 0o755);
    chmodSync(notExecutable, 0o644);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('ENGINE=auto', () => {
    it('picks mediasoup when the installed worker exists', () => {
      const choice = chooseEngine({ ENGINE: 'auto' }, worker);
      assert.equal(choice.kind, 'mediasoup');
      assert.equal(choice.workerBin, worker);
      assert.match(choice.reason, /mediasoup worker binary at/);
      assert.equal(choice.warn, undefined);
    });

    it('picks embedded when there is no worker, saying where it looked', () => {
      const choice = chooseEngine({ ENGINE: 'auto' }, missing);
      assert.deepEqual(choice, { kind: 'embedded', reason: `no mediasoup worker binary at ${missing}` });
    });

    it('picks embedded when the mediasoup package is missing', () => {
      assert.deepEqual(chooseEngine({ ENGINE: 'auto' }, null), { kind: 'embedded', reason: 'the mediasoup package is not installed' });
    });

    it('treats a worker file without execute permission as absent', () => {
      assert.equal(chooseEngine({ ENGINE: 'auto' }, notExecutable).kind, 'embedded');
    });

    it('uses MEDIASOUP_WORKER_BIN over the installed worker', () => {
      const choice = chooseEngine({ ENGINE: 'auto', MEDIASOUP_WORKER_BIN: otherWorker }, worker);
      assert.equal(choice.kind, 'mediasoup');
      assert.equal(choice.workerBin, otherWorker);
      assert.match(choice.reason, /MEDIASOUP_WORKER_BIN=/);
    });

    it('falls back to embedded with a warning when MEDIASOUP_WORKER_BIN is not there, even if a worker is installed', () => {
      const choice = chooseEngine({ ENGINE: 'auto', MEDIASOUP_WORKER_BIN: missing }, worker);
      assert.equal(choice.kind, 'embedded');
      assert.equal(choice.workerBin, undefined);
      assert.equal(choice.warn, true);
      assert.match(choice.reason, /MEDIASOUP_WORKER_BIN=.*missing is not there/);
    });

    it('falls back with a warning when MEDIASOUP_WORKER_BIN is not executable', () => {
      const choice = chooseEngine({ ENGINE: 'auto', MEDIASOUP_WORKER_BIN: notExecutable }, worker);
      assert.equal(choice.kind, 'embedded');
      assert.equal(choice.warn, true);
      assert.match(choice.reason, /not executable/);
    });
  });

  describe('ENGINE=mediasoup', () => {
    it('uses the installed worker', () => {
      assert.deepEqual(chooseEngine({ ENGINE: 'mediasoup' }, worker), {
        kind: 'mediasoup',
        reason: `ENGINE=mediasoup, mediasoup worker binary at ${worker}`,
        workerBin: worker,
      });
    });

    it('uses MEDIASOUP_WORKER_BIN', () => {
      assert.equal(chooseEngine({ ENGINE: 'mediasoup', MEDIASOUP_WORKER_BIN: otherWorker }, missing).workerBin, otherWorker);
    });

    it('fails with UnsupportedError naming MEDIASOUP_WORKER_BIN when there is no worker', () => {
      for (const bundled of [missing, null]) {
        assert.throws(
          () => chooseEngine({ ENGINE: 'mediasoup' }, bundled),
          (err: unknown) => err instanceof UnsupportedError && err.code === 'unsupported' && /MEDIASOUP_WORKER_BIN/.test(err.message),
        );
      }
    });

    it('fails with a configuration error when MEDIASOUP_WORKER_BIN is not there', () => {
      assert.throws(
        () => chooseEngine({ ENGINE: 'mediasoup', MEDIASOUP_WORKER_BIN: missing }, worker),
        (err: unknown) => err instanceof ConfigError && /invalid MEDIASOUP_WORKER_BIN/.test(err.message),
      );
    });
  });

  it('ENGINE=embedded picks embedded even with a worker', () => {
    assert.deepEqual(chooseEngine({ ENGINE: 'embedded', MEDIASOUP_WORKER_BIN: otherWorker }, worker), { kind: 'embedded', reason: 'ENGINE=embedded' });
  });

  it('looks for the installed worker inside the mediasoup package', () => {
    const bin = bundledMediasoupWorkerPath();
    assert.ok(bin);
    assert.ok(bin.endsWith(path.join('node_modules', 'mediasoup', 'worker', 'out', 'Release', 'mediasoup-worker')), bin);
  });
});

describe('mediasoup options', () => {
  const secrets = { API_KEY: 'k'.repeat(20), JWT_SECRET: 's'.repeat(40) };

  it('applies the documented defaults', () => {
    const cfg = loadConfig({ ...secrets });
    assert.equal(cfg.MEDIASOUP_WORKERS, 0);
    const options = mediasoupOptions(cfg, '/bin/worker');
    assert.equal(options.workerBin, '/bin/worker');
    assert.equal(options.numWorkers, os.availableParallelism());
    assert.equal(options.consumersPerWorker, 500);
    assert.equal(options.logLevel, 'warn');
    assert.deepEqual(options.portRange, [40000, 49999]);
    assert.equal(options.listenIp, '127.0.0.1');
  });

  it('takes the settings', () => {
    const cfg = loadConfig({ ...secrets, MEDIASOUP_WORKERS: '3', MEDIASOUP_CONSUMERS_PER_WORKER: '40', MEDIASOUP_LOG_LEVEL: 'debug' });
    const options = mediasoupOptions(cfg, '/bin/worker');
    assert.equal(options.numWorkers, 3);
    assert.equal(options.consumersPerWorker, 40);
    assert.equal(options.logLevel, 'debug');
  });

  it('rejects bad values by name', () => {
    const bad: [string, string][] = [['MEDIASOUP_WORKERS', '-1'], ['MEDIASOUP_CONSUMERS_PER_WORKER', '0'], ['MEDIASOUP_LOG_LEVEL', 'info']];
    for (const [key, value] of bad) {
      assert.throws(() => loadConfig({ ...secrets, [key]: value }), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`invalid ${key}`));
    }
  });

  it('needs a port for each worker WebRtcServer and at least one more', () => {
    const cfg = loadConfig({ ...secrets, MEDIASOUP_WORKERS: '4', MEDIA_PORT_RANGE: '40000-40003' });
    assert.throws(() => mediasoupOptions(cfg, '/bin/worker'), (err: unknown) => err instanceof ConfigError && /MEDIA_PORT_RANGE/.test(err.message));
    assert.equal(mediasoupOptions({ ...cfg, MEDIA_PORT_RANGE: [40000, 40004] }, '/bin/worker').numWorkers, 4);
  });
});
