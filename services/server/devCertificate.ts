import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

/**
 * DEV_TLS: a self-signed certificate so that phones and laptops on the LAN get a secure origin
 * (browsers give camera and microphone only to those). Made with Debian's openssl CLI, kept in
 * one directory and reused while it is valid and still names every address of this machine.
 */

export interface DevCertificate {
  certFile: string;
  keyFile: string;
  /** SHA-256 fingerprint as browsers show it, `AB:CD:…`. */
  fingerprint256: string;
  /** The names it was asked to cover (its subjectAltName has them all), e.g. `localhost`, `127.0.0.1`, `192.168.1.20`. */
  names: string[];
  validTo: Date;
  /** Made by this call (else reused). */
  created: boolean;
}

/** Long enough not to bother a developer, short enough that a leaked key ages out. */
const VALID_DAYS = 90;
/** A certificate with less left than this is replaced, so a running dev server does not expire mid-session. */
const MIN_REMAINING_MS = 24 * 3600_000;

const run = promisify(execFile);

/** localhost, the loopback addresses, the host name and every non-loopback address of this machine (link-local IPv6 left out: it needs a zone). */
export function devCertificateNames(): string[] {
  const names = new Set(['localhost', '127.0.0.1', '::1']);
  const host = hostname();
  if (host && host !== 'localhost' && /^[a-z0-9.-]+$/i.test(host)) names.add(host);
  for (const addrs of Object.values(networkInterfaces())) {
    for (const addr of addrs ?? []) {
      if (addr.internal || (addr.family === 'IPv6' && addr.address.toLowerCase().startsWith('fe80:'))) continue;
      names.add(addr.address);
    }
  }
  return [...names];
}

/**
 * The certificate and key in `dir` (`cert.pem`, `key.pem`), made with `openssl req -x509` unless
 * a valid one covering `names` is there already. Needs the openssl CLI only when it makes one.
 */
export async function ensureDevCertificate(dir: string, names: string[] = devCertificateNames()): Promise<DevCertificate> {
  const certFile = resolve(join(dir, 'cert.pem'));
  const keyFile = resolve(join(dir, 'key.pem'));
  const existing = await readUsable(certFile, keyFile, names);
  if (existing) return { certFile, keyFile, names, ...describe(existing), created: false };

  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmpCert = `${certFile}.${process.pid}.tmp`;
  const tmpKey = `${keyFile}.${process.pid}.tmp`;
  const san = names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  try {
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256',
      '-days', String(VALID_DAYS), '-subj', '/O=stagecast/CN=stagecast dev certificate',
      '-addext', `subjectAltName=${san}`,
      '-addext', 'basicConstraints=critical,CA:FALSE',
      '-addext', 'keyUsage=critical,digitalSignature',
      '-addext', 'extendedKeyUsage=serverAuth',
      '-keyout', tmpKey, '-out', tmpCert,
    ]);
    await chmod(tmpKey, 0o600);
    await rename(tmpKey, keyFile);
    await rename(tmpCert, certFile);
  } catch (err) {
    await rm(tmpKey, { force: true });
    await rm(tmpCert, { force: true });
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('DEV_TLS needs the openssl command (Debian: apt-get install openssl)', { cause: err });
    throw new Error(`DEV_TLS: openssl could not make a certificate: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
  const made = await readUsable(certFile, keyFile, names);
  if (!made) throw new Error(`DEV_TLS: the certificate openssl made in ${dir} does not cover ${names.join(', ')}`);
  return { certFile, keyFile, names, ...describe(made), created: true };
}

async function readUsable(certFile: string, keyFile: string, names: string[]): Promise<X509Certificate | undefined> {
  const now = new Date();
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(await readFile(certFile));
    if (!cert.checkPrivateKey(createPrivateKey(await readFile(keyFile)))) return undefined;
  } catch {
    return undefined;
  }
  if (new Date(cert.validFrom) > now || new Date(cert.validTo).getTime() - now.getTime() < MIN_REMAINING_MS) return undefined;
  const covered = names.every((n) => (isIP(n) ? cert.checkIP(n) !== undefined : cert.checkHost(n) !== undefined));
  return covered ? cert : undefined;
}

function describe(cert: X509Certificate): Pick<DevCertificate, 'fingerprint256' | 'validTo'> {
  return { fingerprint256: cert.fingerprint256, validTo: new Date(cert.validTo) };
}

/** Plain lines for the dev-mode banner: what the certificate is and how a browser comes to trust it. */
export function devCertificateHelp(cert: DevCertificate): string[] {
  return [
    `  TLS (DEV_TLS):        self-signed certificate ${cert.created ? 'made' : 'reused'}: ${cert.certFile}`,
    `    for ${cert.names.join(', ')}; valid until ${cert.validTo.toISOString()}`,
    `    SHA-256 fingerprint: ${cert.fingerprint256}`,
    '    Trust it: compare that fingerprint with the one the browser shows on its warning page, then proceed;',
    `    or import it once: Chromium/Chrome on Linux: certutil -d sql:$HOME/.pki/nssdb -A -t "P,," -n stagecast-dev -i ${cert.certFile}`,
    `    macOS: security add-trusted-cert -r trustRoot -k ~/Library/Keychains/login.keychain-db ${cert.certFile}; Firefox and phones: proceed past the warning.`,
    '    From another machine: HOST=0.0.0.0, MEDIA_IP=<this machine\'s LAN address> and PUBLIC_URL=https://<that address>:<PORT>.',
  ];
}
