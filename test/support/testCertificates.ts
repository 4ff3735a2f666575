import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';

/** A throwaway CA and a server certificate it signed, for 127.0.0.1 and localhost. */
export interface TestCertificates {
  caFile: string;
  certFile: string;
  keyFile: string;
  caPem: string;
  /** base64 SHA-256 of the server certificate's SubjectPublicKeyInfo, as Chromium's --ignore-certificate-errors-spki-list wants it. */
  spkiSha256: string;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Made with the openssl CLI into `dir`, valid for two days. */
export function makeTestCertificates(dir: string): TestCertificates {
  const caFile = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca-key.pem');
  const csr = join(dir, 'server.csr');
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server-key.pem');
  const ext = join(dir, 'server.ext');
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  openssl(['req', '-x509', ...EC_KEY, '-days', '2', '-subj', '/CN=stagecast test CA', '-keyout', caKey, '-out', caFile,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  openssl(['req', '-new', ...EC_KEY, '-subj', '/CN=127.0.0.1', '-keyout', keyFile, '-out', csr]);
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-days', '2', '-sha256', '-extfile', ext, '-out', certFile]);
  const spki = new X509Certificate(readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return { caFile, certFile, keyFile, caPem: readFileSync(caFile, 'utf8'), spkiSha256: createHash('sha256').update(spki).digest('base64') };
}

/** Makes this process's TLS clients (fetch, https, ws) trust `caPem` besides the usual roots. */
export function trustInThisProcess(caPem: string): void {
  setDefaultCACertificates([...getCACertificates('default'), caPem]);
}
