// Fulcio v1.8.8 on loopback: issues short-lived code-signing certificates for OIDC tokens of the issuers
// it is configured with, signing with our own `fileca` chain (fulcio-ca.ts) so the trusted root can be
// written from files.
//
// Without a CT log (the default, `--ct-log-url=`) certificates carry no SCT, so every verifier must be
// told not to expect one: @sigstore/verify `ctlogThreshold: 0`, cosign `--insecure-ignore-sct`,
// policy-controller `insecureIgnoreSCT: true`. With an SCT from an unknown log, threshold 0 does NOT
// help. With `ctLog` (ctlog.ts: plan the log, start Fulcio, then start the log with Fulcio's root),
// certificates embed an SCT and the trusted root lists the log (trust.ts `ctlog`).
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createFulcioCa } from './fulcio-ca.ts';
import { WorldError } from './errors.ts';
import { freePort, loopback } from './ports.ts';
import { answers } from './probe.ts';
import { startService, type Service } from './process.ts';
import type { RunDir } from './run-dir.ts';
import { goTool } from './tools.ts';

/** One entry of Fulcio's `oidc-issuers`. */
export interface OidcIssuer {
  /** Exact issuer URL, byte for byte as in the tokens' `iss` (no trailing slash unless the issuer has one). */
  url: string;
  /** Fulcio issuer type, which decides the certificate's SAN: `kubernetes`, `email`, `uri`, … */
  type: 'kubernetes' | 'email' | 'uri' | 'spiffe' | 'username';
  /** Expected token audience; `sigstore` by default. */
  clientId?: string;
  /** PEM CA of an https issuer with a private certificate (the apiserver's serving CA). */
  caPem?: string;
  /** For `uri` and `username` issuers. */
  subjectDomain?: string;
}

export interface FulcioOptions {
  issuers: readonly OidcIssuer[];
  /** A CT log to submit precertificates to: its URL (with any prefix) and PEM public key file. */
  ctLog?: { url: string; publicKeyFile: string };
}

export interface Fulcio {
  url: string;
  /** The CA chain as PEM blocks, intermediate first then root: what the trusted root lists. */
  chainPem: string[];
  service: Service;
  stop(): Promise<void>;
}

/** A `kubernetes` issuer: tokens from the TokenRequest API, SAN `https://kubernetes.io/namespaces/<ns>/serviceaccounts/<sa>`. */
export function kubernetesIssuer(url: string, caPem?: string): OidcIssuer {
  return caPem === undefined ? { url, type: 'kubernetes' } : { url, type: 'kubernetes', caPem };
}

function fulcioConfig(issuers: readonly OidcIssuer[]): string {
  const entries: Record<string, Record<string, string>> = {};
  for (const issuer of issuers) {
    if (entries[issuer.url]) throw new WorldError('FULCIO_CONFIG', `issuer ${issuer.url} is listed twice`);
    entries[issuer.url] = {
      IssuerURL: issuer.url,
      ClientID: issuer.clientId ?? 'sigstore',
      Type: issuer.type,
      ...(issuer.subjectDomain === undefined ? {} : { SubjectDomain: issuer.subjectDomain }),
    };
  }
  // Fulcio reads JSON before YAML; JSON keeps URL keys with colons unambiguous.
  return `${JSON.stringify({ OIDCIssuers: entries }, null, 2)}\n`;
}

export async function startFulcio(runDir: RunDir, options: FulcioOptions): Promise<Fulcio> {
  if (options.issuers.length === 0) throw new WorldError('FULCIO_CONFIG', 'Fulcio needs at least one issuer');
  const binary = goTool('fulcio');
  const dir = runDir.sub('fulcio');
  const ca = await createFulcioCa(dir);
  const configPath = path.join(dir, 'config.json');
  writeFileSync(configPath, fulcioConfig(options.issuers));

  // Go reads SSL_CERT_FILE instead of the system roots: the issuers' private CAs are all it may trust,
  // which is exactly right on a loopback-only machine.
  const caPems = options.issuers.flatMap((issuer) => (issuer.caPem ? [issuer.caPem.trim()] : []));
  const env: Record<string, string> = {};
  if (caPems.length > 0) {
    const caFile = path.join(dir, 'issuer-ca.pem');
    writeFileSync(caFile, `${caPems.join('\n')}\n`);
    env.SSL_CERT_FILE = caFile;
  }

  const [httpPort, grpcPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const url = `http://${loopback}:${httpPort}`;
  const service = await startService({
    name: 'fulcio',
    command: binary,
    args: [
      'serve',
      `--host=${loopback}`,
      `--port=${httpPort}`,
      `--grpc-host=${loopback}`,
      `--grpc-port=${grpcPort}`,
      // The metrics server binds all interfaces (":port", not configurable in v1.8.8); the port at least
      // is ours.
      `--metrics-port=${metricsPort}`,
      // The default is one fixed abstract socket per machine: two Fulcios would collide on it.
      `--legacy-unix-domain-socket=@sigward-fulcio-${randomUUID()}`,
      `--config-path=${configPath}`,
      '--ca=fileca',
      `--fileca-cert=${ca.chainPath}`,
      `--fileca-key=${ca.keyPath}`,
      `--fileca-key-passwd=${ca.password}`,
      '--fileca-watch=false',
      ...(options.ctLog
        ? [`--ct-log-url=${options.ctLog.url}`, `--ct-log-public-key-path=${options.ctLog.publicKeyFile}`]
        : ['--ct-log-url=']),
      '--log_type=dev',
    ],
    env,
    cwd: dir,
    logDir: runDir.logs,
    ready: () => answers(`${url}/api/v1/rootCert`),
  });
  return { url, chainPem: ca.chainPem, service, stop: () => service.stop() };
}
