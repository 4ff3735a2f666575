import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { devCertificateNames, ensureDevCertificate } from '../../services/server/devCertificate.ts';

describe('DEV_TLS certificate', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stagecast-devtls-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names localhost and the loopback addresses, besides the LAN ones', () => {
    const names = devCertificateNames();
    for (const n of ['localhost', '127.0.0.1', '::1']) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
  });

  it('makes a self-signed server certificate for the names, with a private key file', async () => {
    const names = ['localhost', '127.0.0.1', '::1', '192.0.2.7'];
    const made = await ensureDevCertificate(dir, names);
    assert.equal(made.created, true);
    const cert = new X509Certificate(await readFile(made.certFile));
    assert.equal(cert.fingerprint256, made.fingerprint256);
    assert.match(made.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(cert.ca, false, 'a leaf certificate, not a CA');
    assert.ok(cert.checkHost('localhost') && cert.checkIP('127.0.0.1') && cert.checkIP('::1') && cert.checkIP('192.0.2.7'), cert.subjectAltName);
    assert.equal(cert.verify(cert.publicKey), true, 'self-signed');
    assert.equal((await stat(made.keyFile)).mode & 0o077, 0, 'key readable by its owner only');
  });

  it('reuses it while it is valid and covers the names; replaces it otherwise', async () => {
    const names = ['localhost', '127.0.0.1', '::1', '192.0.2.7'];
    const first = await ensureDevCertificate(dir, names);
    const again = await ensureDevCertificate(dir, names);
    assert.equal(again.created, false);
    assert.equal(again.fingerprint256, first.fingerprint256);

    const moved = await ensureDevCertificate(dir, [...names, '192.0.2.8']);
    assert.equal(moved.created, true, 'a new LAN address needs a new certificate');
    assert.notEqual(moved.fingerprint256, first.fingerprint256);

    // A certificate for the same names that has less than a day left.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=old',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1,IP:192.0.2.7', '-keyout', moved.keyFile, '-out', moved.certFile], { stdio: 'ignore' });
    const expiring = await ensureDevCertificate(dir, names);
    assert.equal(expiring.created, true, 'one that expires within a day is replaced');

    await writeFile(expiring.keyFile, 'not a key');
    const repaired = await ensureDevCertificate(dir, names);
    assert.equal(repaired.created, true, 'an unreadable key is replaced');
  });
});
