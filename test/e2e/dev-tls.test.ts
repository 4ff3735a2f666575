/**
 * DEV_TLS: in dev mode the service makes a self-signed certificate under DEV_TLS_DIR, serves
 * https with it, says its fingerprint, and reuses it on the next start.
 *
 * Run: node scripts/test.mjs test/e2e/dev-tls.test.ts
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { connect, type PeerCertificate } from 'node:tls';
import { startService } from '../support/service.ts';

/** The certificate 127.0.0.1:`port` presents, verified against `ca` (and the address) unless `ca` is omitted. */
async function peerCertificate(port: number, ca?: Buffer): Promise<PeerCertificate> {
  const socket = connect({ host: '127.0.0.1', port, ...(ca ? { ca } : { rejectUnauthorized: false }) });
  try {
    await once(socket, 'secureConnect');
    return socket.getPeerCertificate();
  } finally {
    socket.destroy();
  }
}

describe('DEV_TLS: a self-signed certificate for dev mode', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stagecast-devtls-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { DEV: 'true', DEV_TLS: 'true', DEV_TLS_DIR: dir, ENGINE: 'embedded', BROADCAST_AUTO_START: 'false' };

  it('serves https with the certificate it made, names its fingerprint, and reuses it on the next start', async () => {
    const fingerprints: string[] = [];
    for (const start of ['first', 'second']) {
      const svc = await startService(env);
      try {
        assert.match(svc.url, /^https:\/\//, `${start} start listens on https`);
        const made = svc.logs.find((l) => l.msg === 'dev TLS certificate');
        assert.ok(made, 'the certificate is logged');
        assert.equal(made.created, start === 'first', `${start} start: created`);
        const port = Number(new URL(svc.url).port);
        // Trusting exactly that file verifies the connection, 127.0.0.1 included.
        const peer = await peerCertificate(port, readFileSync(join(dir, 'cert.pem')));
        assert.equal(peer.fingerprint256, made.fingerprint256, 'the served certificate is the one whose fingerprint was printed');
        fingerprints.push(peer.fingerprint256);
      } finally {
        assert.equal(await svc.stop(), 0);
      }
    }
    assert.equal(fingerprints[0], fingerprints[1], 'reused while valid');
  });
});
