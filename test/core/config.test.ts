import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
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
    assert.equal(cfg.HTTP_HEADERS_TIMEOUT_MS, 10000);
    assert.equal(cfg.HTTP_REQUEST_TIMEOUT_MS, 30000);
    assert.equal(cfg.HTTP_MAX_HEADER_BYTES, 16384);
    assert.equal(cfg.HTTP_INGEST_RATE_PER_MINUTE, 60);
    assert.equal(cfg.HTTP_INGEST_RATE_BURST, 30);
    assert.equal(cfg.HTTP_TOKEN_RATE_PER_MINUTE, 600);
    assert.equal(cfg.HTTP_TOKEN_RATE_BURST, 100);
    assert.equal(cfg.ICE_CONNECT_TIMEOUT_MS, 15000);
    assert.equal(cfg.STAGE_MAX_SESSIONS_PER_IDENTITY, 5);
  });

  it('refuses a headers timeout above the request timeout, naming the key', () => {
    assert.throws(
      () => loadConfig({ ...secrets, HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' }),
      (err: unknown) => err instanceof ConfigError && /invalid HTTP_HEADERS_TIMEOUT_MS/.test(err.message),
    );
  });

  it('names an unknown key', () => {
    assert.throws(() => loadConfig({ ...secrets, PROT: '80' }), (err: unknown) => err instanceof ConfigError && /PROT/.test(err.message));
  });

  it('RECORD is the one recording key: default false; the old HLS_RECORD is refused naming RECORD, even from process.env', () => {
    assert.equal(loadConfig({ ...secrets }).RECORD, false);
    assert.equal(loadConfig({ ...secrets, RECORD: 'true' }).RECORD, true);
    assert.throws(() => loadConfig({ ...secrets, HLS_RECORD: 'true' }), (err: unknown) => err instanceof ConfigError && /HLS_RECORD was replaced by RECORD/.test(err.message));
    assert.throws(() => loadConfig({ ...secrets, HLS_RECORD: 'true' }, { strict: false }), (err: unknown) => err instanceof ConfigError && /RECORD/.test(err.message));
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

describe('loadConfig: TLS', () => {
  let dir: string;
  let cert: string;
  let key: string;
  let otherKey: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'stagecast-config-tls-'));
    cert = join(dir, 'cert.pem');
    key = join(dir, 'key.pem');
    otherKey = join(dir, 'other-key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=localhost',
      '-keyout', key, '-out', cert], { stdio: 'ignore' });
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', otherKey], { stdio: 'ignore' });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const fails = (env: Record<string, string>, pattern: RegExp) =>
    assert.throws(() => loadConfig({ ...secrets, ...env }), (err: unknown) => err instanceof ConfigError && pattern.test(err.message));

  it('serves https with both files, and PUBLIC_URL defaults to https', () => {
    const cfg = loadConfig({ ...secrets, TLS_CERT_FILE: cert, TLS_KEY_FILE: key });
    assert.equal(cfg.PUBLIC_URL, 'https://127.0.0.1:8080');
    assert.equal(loadConfig({ ...secrets, TLS_CERT_FILE: cert, TLS_KEY_FILE: key, PUBLIC_URL: 'https://stage.example.com' }).PUBLIC_URL, 'https://stage.example.com');
  });

  it('wants both files or neither, naming the missing one', () => {
    fails({ TLS_CERT_FILE: cert }, /missing TLS_KEY_FILE/);
    fails({ TLS_KEY_FILE: key }, /missing TLS_CERT_FILE/);
  });

  it('fails at start on a file it cannot read or use, naming the key', () => {
    fails({ TLS_CERT_FILE: join(dir, 'nope.pem'), TLS_KEY_FILE: key }, /invalid TLS_CERT_FILE: cannot read .*nope\.pem \(ENOENT\)/);
    fails({ TLS_CERT_FILE: cert, TLS_KEY_FILE: dir }, /invalid TLS_KEY_FILE: cannot read .* \(EISDIR\)/);
    fails({ TLS_CERT_FILE: key, TLS_KEY_FILE: key }, /invalid TLS_CERT_FILE: .* does not hold a PEM certificate/);
    fails({ TLS_CERT_FILE: cert, TLS_KEY_FILE: cert }, /invalid TLS_KEY_FILE: .* does not hold an unencrypted PEM private key/);
    fails({ TLS_CERT_FILE: cert, TLS_KEY_FILE: otherKey }, /invalid TLS_KEY_FILE: .* is not the key of the certificate/);
  });

  it('DEV_TLS: dev mode only, not with certificate files, and PUBLIC_URL defaults to https', () => {
    assert.equal(loadConfig({ DEV: 'true', DEV_TLS: 'true' }).PUBLIC_URL, 'https://127.0.0.1:8080');
    assert.equal(loadConfig({ DEV: 'true', DEV_TLS: 'true' }).DEV_TLS_DIR, './.data/tls');
    fails({ DEV_TLS: 'true' }, /invalid DEV_TLS: requires DEV=true/);
    fails({ DEV: 'true', DEV_TLS: 'true', TLS_CERT_FILE: cert, TLS_KEY_FILE: key }, /invalid DEV_TLS: cannot be combined with TLS_CERT_FILE/);
  });
});
