// `npm run stack`: starts the local world, prints how to use it, and stops it cleanly on Ctrl-C.
// SIGWARD_E2E_TIER=full adds the CT log and Rekor v1; SIGWARD_STACK_KUBE_PORT pins the apiserver's port.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorldError } from './world/errors.ts';
import { requestedPort } from './world/ports.ts';
import { toolsDir } from './world/tools.ts';
import { startWorld, tierFromEnv, type World } from './world/world.ts';

/** The repository's bin/, so `sigward` (bin/sigward) is a command once stack.env is sourced. */
const repoBin = path.resolve(import.meta.dirname, '../bin');

function environment(world: World): Record<string, string> {
  return {
    KUBECONFIG: world.kube.kubeconfig,
    SIGWARD_ISSUER: world.kube.issuer,
    SIGWARD_TRUSTED_ROOT: world.sigstore.trustedRootPath,
    SIGWARD_SIGNING_CONFIG: world.sigstore.signingConfigPath,
    SIGWARD_REGISTRY: world.registries.referrers.host,
    SIGWARD_REGISTRY_FALLBACK: world.registries.fallback.host,
    SIGWARD_REGISTRY_DISTRIBUTION_V3: world.registries.distributionV3.host,
    SIGWARD_TUF_MIRROR: world.sigstore.tuf.mirrorUrl,
    SIGWARD_TUF_ROOT: world.sigstore.tuf.rootPath,
    PATH: `${repoBin}:${toolsDir}:${process.env.PATH ?? ''}`,
  };
}

function usage(world: World, envFile: string): string {
  const env = environment(world);
  const lines = [
    `sigward local world (${world.tier} tier) is up in ${(world.startupMs / 1000).toFixed(1)} s. Everything listens on 127.0.0.1.`,
    '',
    `  kube-apiserver   ${world.kube.url}  (${world.kube.version}; issuer ${world.kube.issuer})`,
    `  Fulcio           ${world.sigstore.fulcioUrl}`,
    `  Rekor v2         ${world.sigstore.rekorUrl}`,
    `  TSA              ${world.sigstore.tsaUrl}`,
    `  TUF mirror       ${world.sigstore.tuf.mirrorUrl}  (initial root ${world.sigstore.tuf.rootPath})`,
    `  registry         ${world.registries.referrers.url}  (OCI referrers API)`,
    `  registry (old)   ${world.registries.fallback.url}  (no referrers API: fallback tag)`,
    `  registry:3       ${world.registries.distributionV3.url}  (distribution v3, no referrers API: fallback tag)`,
    ...(world.full
      ? [
          `  Rekor v1         ${world.full.rekorV1.url}`,
          `  CT log           ${world.full.ctlog.url}`,
          `  full-tier trusted root ${world.full.trust.trustedRootPath}`,
        ]
      : []),
    '',
    `  trusted root     ${world.sigstore.trustedRootPath}`,
    `  signing config   ${world.sigstore.signingConfigPath}`,
    `  kubeconfig       ${world.kube.kubeconfig}`,
    '',
    `In another shell:  source ${envFile}`,
    ...Object.entries(env).map(([k, v]) => `  export ${k}=${v}`),
    '',
    'Then, for example (the seed flow):',
    '  kubectl create namespace apps && kubectl -n apps create serviceaccount release',
    '  crane append -f <(tar -cf - -C /etc hostname) -t $SIGWARD_REGISTRY/apps/web:v1',
    '  kubectl -n apps create token release --audience sigstore > token',
    '  cosign sign --yes --identity-token token --signing-config $SIGWARD_SIGNING_CONFIG \\',
    '    --trusted-root $SIGWARD_TRUSTED_ROOT $SIGWARD_REGISTRY/apps/web:v1',
    '  cosign verify --trusted-root $SIGWARD_TRUSTED_ROOT --insecure-ignore-sct \\',
    '    --certificate-identity https://kubernetes.io/namespaces/apps/serviceaccounts/release \\',
    '    --certificate-oidc-issuer $SIGWARD_ISSUER $SIGWARD_REGISTRY/apps/web:v1',
    '',
    'Ctrl-C stops everything and removes the temporary files.',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const portSetting = process.env.SIGWARD_STACK_KUBE_PORT;
  const kubePort =
    portSetting === undefined
      ? undefined
      : await requestedPort(Number(portSetting), 'SIGWARD_STACK_KUBE_PORT');
  process.stderr.write('starting the local world (etcd, kube-apiserver, Fulcio, Rekor, TSA, registries)…\n');
  const world = await startWorld({ tier: tierFromEnv(), ...(kubePort === undefined ? {} : { kubePort }) });
  const envFile = path.join(world.runDir.root, 'stack.env');
  writeFileSync(
    envFile,
    Object.entries(environment(world))
      .map(([k, v]) => `export ${k}='${v}'\n`)
      .join(''),
  );
  process.stdout.write(`${usage(world, envFile)}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping the local world…\n`);
    world.stop().then(
      () => process.stderr.write('stopped.\n'),
      (error: unknown) => {
        process.stderr.write(`stopping failed: ${String(error)}\n`);
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  // A missing tool or a port clash is one line; anything else keeps its message (which names the logs).
  process.stderr.write(
    `stack: ${error instanceof WorldError ? error.message : String(error instanceof Error ? error.message : error)}\n`,
  );
  process.exitCode = 1;
});
