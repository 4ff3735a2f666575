import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../services/core/config.ts';

const secrets = { API_KEY: 'k'.repeat(20), JWT_SECRET: 's'.repeat(40) };

describe('loadConfig', () => {
  it('applies documented defaults', () => {
    const cfg = loadConfig({ ...secrets });
    assert.equal(cfg.PORT, 8080);
    assert.equal(cfg.HOST, '127.0.0.1');
    assert.equal(cfg.TOKEN_TTL_SECONDS, 3600);
    assert.equal(cfg.WS_MAX_MESSAGE_BYTES, 65536);
    assert.equal(cfg.PUBLIC_URL, 'http://127.0.0.1:8080');
    assert.equal(cfg.DEV, false);
    assert.equal(cfg.SDP_MAX_MEDIA_SECTIONS, 16);
  });

  it('names an unknown key', () => {
    assert.throws(() => loadConfig({ ...secrets, PROT: '80' }), (err: unknown) => err instanceof ConfigError && /PROT/.test(err.message));
  });

  it('names the key with a bad value', () => {
    assert.throws(() => loadConfig({ ...secrets, PORT: 'eighty' }), (err: unknown) => err instanceof ConfigError && /invalid PORT/.test(err.message));
    assert.throws(() => loadConfig({ ...secrets, ENGINE: 'gstreamer' }), (err: unknown) => err instanceof ConfigError && /invalid ENGINE/.test(err.message));
    assert.throws(() => loadConfig({ ...secrets, MEDIA_PORT_RANGE: '5000-10' }), (err: unknown) => err instanceof ConfigError && /invalid MEDIA_PORT_RANGE/.test(err.message));
  });

  it('requires secrets outside dev mode, and generates them in dev mode', () => {
    assert.throws(() => loadConfig({ JWT_SECRET: secrets.JWT_SECRET }), (err: unknown) => err instanceof ConfigError && /API_KEY/.test(err.message));
    assert.throws(() => loadConfig({ API_KEY: secrets.API_KEY }), (err: unknown) => err instanceof ConfigError && /JWT_SECRET/.test(err.message));
    const dev = loadConfig({ DEV: 'true' });
    assert.ok(dev.API_KEY.length >= 16);
    assert.ok(dev.JWT_SECRET.length >= 32);
  });

  it('reads only known keys from process.env', () => {
    // process.env holds many unrelated variables; they must not fail the start.
    const saved = { ...process.env };
    try {
      Object.assign(process.env, secrets, { SOME_UNRELATED_VAR: 'x' });
      assert.equal(loadConfig().API_KEY, secrets.API_KEY);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});
