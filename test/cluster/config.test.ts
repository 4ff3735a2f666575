import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../services/core/config.ts';

const secrets = { API_KEY: 'k'.repeat(20), JWT_SECRET: 's'.repeat(40) };

describe('cluster configuration', () => {
  it('is off by default, with documented heartbeat and TTL', () => {
    const cfg = loadConfig({ ...secrets });
    assert.equal(cfg.REDIS_URL, undefined);
    assert.equal(cfg.CLUSTER_HEARTBEAT_MS, 1000);
    assert.equal(cfg.CLUSTER_NODE_TTL_MS, 5000);
  });

  it('needs CLUSTER_SECRET with REDIS_URL, a redis: URL, and a TTL of at least two heartbeats', () => {
    assert.throws(() => loadConfig({ ...secrets, REDIS_URL: 'redis://127.0.0.1:6379' }), (e) => e instanceof ConfigError && /CLUSTER_SECRET/.test(e.message));
    assert.throws(() => loadConfig({ ...secrets, REDIS_URL: 'http://127.0.0.1:6379', CLUSTER_SECRET: 'c'.repeat(16) }), /REDIS_URL/);
    assert.throws(() => loadConfig({ ...secrets, CLUSTER_HEARTBEAT_MS: '3000' }), /CLUSTER_NODE_TTL_MS/);
    assert.throws(() => loadConfig({ ...secrets, NODE_ID: 'a b' }), /NODE_ID/);
    const cfg = loadConfig({ ...secrets, REDIS_URL: 'redis://127.0.0.1:6379', CLUSTER_SECRET: 'c'.repeat(16), NODE_ID: 'node-a' });
    assert.equal(cfg.REDIS_URL, 'redis://127.0.0.1:6379');
    assert.equal(cfg.NODE_ID, 'node-a');
  });
});
