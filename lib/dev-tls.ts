// Development certificates made at start-up with the openssl CLI: a throwaway CA and a server
// certificate for loopback names, so services that only speak HTTPS (Pebble, the local cloud)
// can be trusted by passing the CA through configuration, never by disabling verification.
// The certificates are good for clientAuth too, so tests make mutual-TLS client certificates
// with the same helper.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DevCertificate {
  caCertPem: string;
  caCertFile: string;
  /** The CA's private key (in the same folder, 0700): signs further certificates from the same CA. */
  caKeyFile: string;
  certFile: string;
  keyFile: string;
}

/** Creates (or reuses, when present) a CA and a server certificate for the given names in dir. */
export function ensureDevCertificate(dir: string, names: string[] = ['localhost', '127.0.0.1']): DevCertificate {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, 'ca.key');
  const caCertFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'server.key');
  const certFile = join(dir, 'server.pem');
  if (!existsSync(certFile)) {
    const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKey]);
    openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      caKey,
      '-sha256',
      '-days',
      '825',
      '-subj',
      '/CN=HCS local development CA',
      '-out',
      caCertFile,
    ]);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile]);
    const csr = join(dir, 'server.csr');
    openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${names[0]}`, '-out', csr]);
    const san = names.map((n) => (/^[\d.]+$/.test(n) || n.includes(':') ? `IP:${n}` : `DNS:${n}`)).join(',');
    const ext = join(dir, 'server.ext');
    writeFileSync(
      ext,
      `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature\nbasicConstraints=CA:FALSE\n`,
    );
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      caCertFile,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-days',
      '825',
      '-sha256',
      '-extfile',
      ext,
      '-out',
      certFile,
    ]);
  }
  return { caCertPem: readFileSync(caCertFile, 'utf8'), caCertFile, caKeyFile: caKey, certFile, keyFile };
}
