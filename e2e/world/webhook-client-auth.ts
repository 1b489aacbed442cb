// The apiserver authenticating itself to a webhook, as README "Authenticating the apiserver" tells an
// operator to set it up: a CA for webhook clients, a client certificate from it for the apiserver, a
// kubeconfig whose user entry is named after the webhook's host:port (what kube-apiserver matches a
// webhook URL against), and an AdmissionConfiguration giving that kubeconfig to both webhook admission
// plugins, passed with --admission-control-config-file. The apiserver reads it once, at start.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { createCa, issueClientCert, type CertificateAuthority, type IssuedCertificate } from './pki.ts';

export interface ApiserverClientAuth {
  /** The flags to add to kube-apiserver. */
  readonly apiserverArgs: readonly string[];
  /** The CA that signed the apiserver's client certificate: what the webhook's --client-ca names. */
  readonly ca: CertificateAuthority;
  /** The certificate the apiserver presents to the webhook (subject CN `commonName`). */
  readonly client: IssuedCertificate;
  readonly admissionConfigFile: string;
  readonly kubeconfigFile: string;
}

/**
 * Writes the PKI, kubeconfig and AdmissionConfiguration into `dir` for a webhook served at `hostPort`
 * (e.g. `127.0.0.1:40123`; a Service on 443 would be `<name>.<namespace>.svc`).
 */
export async function apiserverWebhookClientAuth(
  dir: string,
  hostPort: string,
  commonName = 'kube-apiserver',
): Promise<ApiserverClientAuth> {
  const ca = await createCa(dir, 'webhook-client-ca');
  const client = await issueClientCert(ca, dir, 'apiserver-webhook-client', commonName);
  const kubeconfigFile = path.join(dir, 'webhook-clients.kubeconfig');
  // Files, not inline data: client-go re-reads a rotated certificate file (the data form never changes).
  await writeFile(
    kubeconfigFile,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      users: [
        { name: hostPort, user: { 'client-certificate': client.certFile, 'client-key': client.keyFile } },
      ],
    }),
    { mode: 0o600 },
  );
  const plugin = (name: string) => ({
    name,
    configuration: {
      apiVersion: 'apiserver.config.k8s.io/v1',
      kind: 'WebhookAdmissionConfiguration',
      kubeConfigFile: kubeconfigFile,
    },
  });
  const admissionConfigFile = path.join(dir, 'admission-config.yaml');
  await writeFile(
    admissionConfigFile,
    stringify({
      apiVersion: 'apiserver.config.k8s.io/v1',
      kind: 'AdmissionConfiguration',
      plugins: [plugin('ValidatingAdmissionWebhook'), plugin('MutatingAdmissionWebhook')],
    }),
  );
  return {
    apiserverArgs: [`--admission-control-config-file=${admissionConfigFile}`],
    ca,
    client,
    admissionConfigFile,
    kubeconfigFile,
  };
}
