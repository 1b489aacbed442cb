// `sigward webhook`: wires the admission webhook and runs it until SIGTERM/SIGINT.
//   policies:     --policies DIR (YAML files), else the cluster's resources (informers), else, with no
//                 cluster at hand, the sample policies in examples/policies
//   trust:        --trusted-root FILE (re-read when it changes; a bad new file keeps the last good
//                 root), else the public-good root embedded in @sigstore/tuf (refreshed through TUF in
//                 the background when the network allows); TrustRoot resources, ConfigMaps watched
//   credentials:  pull secrets of the pod and its service account (cluster only), then a docker config
//                 file (--registry-config, its credential helpers), then kubelet credential provider
//                 plugins (--credential-provider-config), then ECR, Artifact Registry/GCR and ACR tokens
//                 from the webhook's own cloud identity (--cloud-credentials)
//   TLS:          --tls-cert/--tls-key (reloaded when they change), else a self-signed pair whose
//                 certificate (the caBundle) is printed
//   callers:      --client-ca (re-read when it changes): only callers with a certificate from it (the
//                 apiserver's AdmissionConfiguration) get through the handshake; --client-name narrows
//                 them; --health-listen serves the probes and /metrics, which present no certificate
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { SkipSettings } from '../admission/skip.ts';
import { describeError } from '../errors.ts';
import { Decider, RegistryAccess, ReviewEngine } from '../engine/index.ts';
import type { CredentialsSource, EngineObserver, PolicySnapshotSource } from '../engine/index.ts';
import { TrustRootRegistry } from '../engine/trust-roots.ts';
import { LEAF_MEMO_CAPACITY, setLeafMemoEntries } from '../sigstore/leaf-memo.ts';
import {
  ClusterPolicySource,
  EventRecorder,
  FilePolicySource,
  LeaderElector,
  NamespaceLabels,
  PullSecretKeychains,
  SecretPublicKeys,
  ConfigMapWatch,
  CoreApi,
  EventsApi,
  LeaseApi,
  kubeConfigAvailable,
  loadKubeConfig,
  recordPolicyFindings,
} from '../kube/index.ts';
import type { KubeClient, PolicySnapshot } from '../kube/index.ts';
import { ERROR_REASONS } from '../policy/decision.ts';
import { readClientCaBundle, startServer } from '../server/index.ts';
import type { ClientAuth, Readiness } from '../server/index.ts';
import { createLogger, createMetrics, linesWritten, LOG_LEVELS } from '../telemetry/index.ts';
import { combineKeychains } from '../oci/index.ts';
import { CLOUD_CREDENTIALS_USAGE, cloudKeychain, testRegistryEndpoints } from './cloud-credentials.ts';
import {
  CREDENTIAL_PROVIDER_USAGE,
  credentialProviderKeychain,
  programCredentialOptions,
  registryConfigKeychain,
} from './program-credentials.ts';
import { startIdleCollection } from './idle-collection.ts';
import { trustRootRefreshLog } from './trust-root-log.ts';
import { ContinuousRecheck, RECHECK_USAGE } from './recheck.ts';

export const webhookUsage = `Usage: sigward webhook [options]

  --listen HOST:PORT          where to serve HTTPS (default 127.0.0.1:8443; 0.0.0.0:8443 in a pod)
  --kubeconfig FILE           the cluster (default: in-cluster config in a pod, else $KUBECONFIG)
  --policies DIR              policy YAML files instead of the cluster's resources (re-read on change);
                              policy-controller ClusterImagePolicies in them are read as-is too
  --policy-controller-policies   also read policy-controller's ClusterImagePolicies
                              (policy.sigstore.dev/v1beta1, CRD installed) as-is, read-only; fields
                              sigward cannot honour are logged and fail their images (POLICY_INVALID)
  --tls-cert FILE --tls-key FILE   serving certificate (reloaded on change); default: self-signed
  --client-ca FILE            PEM CA bundle: every caller of --listen must present a client certificate
                              chaining to it (the apiserver's, from its AdmissionConfiguration), else
                              the TLS handshake fails; re-read on change (default: none asked)
  --client-name NAME          with --client-ca: accept only a certificate whose subject CN or a DNS/URI
                              alternative name is NAME, exactly (repeatable; default: any from the CA)
  --health-listen HOST:PORT   also serve /livez, /readyz and /metrics (only) here, over HTTPS with the
                              same certificate and no client certificate: for kubelet probes and
                              Prometheus when --client-ca is set (default: none)
  --trusted-root FILE         trusted_root.json used as the public-good root (private or air-gapped);
                              re-read on change, a bad new file keeps the last good root
  --timeout-seconds N         the webhook's timeoutSeconds (default 10); the review deadline is set below it
  --no-match-action allow|warn|deny    images no policy matches (default deny)
  --failure-outcome deny|allow         registry errors, timeouts, trust-root errors (default deny)
  --namespace NS              sigward's own namespace (never checked; Lease and key secrets) (default $POD_NAMESPACE or sigward)
  --scope opt-out|opt-in      namespaces checked unless labelled sigward.dev/exclude=true, or only those
                              labelled sigward.dev/include=true (default opt-out)
  --exclude-namespace NS      never check this namespace either (repeatable; the chart passes webhook.excludeNamespaces)
  --pin-templates             the mutating webhook also pins images in workload templates (default: Pods only)
  --allow-insecure-registry HOST   plain HTTP to this registry (loopback always may), repeatable
  ${CLOUD_CREDENTIALS_USAGE}
  --registry-config FILE      a docker config.json for every workload, after its pull secrets (auths,
                              credHelpers, credsStore)
  ${CREDENTIAL_PROVIDER_USAGE}
  --verified-ttl-seconds N    how long a verified verdict is cached (default 3600)
  --refused-ttl-seconds N     how long a definite refusal is cached (default 60; registry errors never are)
  --verdict-cache-entries N   most verdicts kept (default 10000; ~60 bytes each, mostly outside the heap)
  --attestation-cache-entries N   most attestation outcomes kept, one per image, policy and attestation
                              set (default 10000; ~150 bytes of heap each)
  --leaf-memo-entries N       signing certificates whose chain and SCT checks are remembered by their exact
                              bytes per trust-root version (default 256, ~2 KiB each; 0: none); the
                              validity at each signing time is checked on every signature all the same
  --body-limit-bytes N        largest AdmissionReview accepted (default 6291456)
  --log-level LEVEL           fatal, error, warn, info, debug, trace or silent (default info)
  ${RECHECK_USAGE}
`;

const options = {
  listen: { type: 'string' },
  kubeconfig: { type: 'string' },
  policies: { type: 'string' },
  'policy-controller-policies': { type: 'boolean' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'client-ca': { type: 'string' },
  'client-name': { type: 'string', multiple: true },
  'health-listen': { type: 'string' },
  'trusted-root': { type: 'string' },
  'timeout-seconds': { type: 'string', default: '10' },
  'no-match-action': { type: 'string', default: 'deny' },
  'failure-outcome': { type: 'string', default: 'deny' },
  namespace: { type: 'string' },
  scope: { type: 'string', default: 'opt-out' },
  'pin-templates': { type: 'boolean' },
  'exclude-namespace': { type: 'string', multiple: true },
  'allow-insecure-registry': { type: 'string', multiple: true },
  'cloud-credentials': { type: 'string' },
  'registry-config': { type: 'string' },
  ...programCredentialOptions,
  'log-level': { type: 'string', default: 'info' },
  'verified-ttl-seconds': { type: 'string', default: '3600' },
  'refused-ttl-seconds': { type: 'string', default: '60' },
  'verdict-cache-entries': { type: 'string', default: '10000' },
  'attestation-cache-entries': { type: 'string', default: '10000' },
  'leaf-memo-entries': { type: 'string', default: String(LEAF_MEMO_CAPACITY) },
  'body-limit-bytes': { type: 'string', default: String(6 * 1024 * 1024) },
  recheck: { type: 'boolean' },
  'recheck-interval-seconds': { type: 'string', default: '600' },
  'recheck-rate': { type: 'string', default: '2' },
  help: { type: 'boolean', short: 'h' },
} as const;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SAMPLE_POLICIES = join(REPO_ROOT, 'examples/policies');
/** Longest the exit waits for the log's last writes (a stdout nobody reads must not hold it). */
const LOG_DRAIN_MS = 2000;

/** The review budget for a webhook timeout: strictly below it, with room for the reply and network. */
export function deadlineFor(timeoutSeconds: number): number {
  const ms = timeoutSeconds * 1000;
  return Math.max(250, ms - Math.max(500, Math.round(ms * 0.1)));
}

function fail(message: string): never {
  process.stderr.write(`sigward webhook: ${message}\n\n${webhookUsage}`);
  process.exit(2);
}

export async function runWebhook(argv: readonly string[]): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof options }>>['values'];
  try {
    ({ values } = parseArgs({ args: [...argv], options }));
  } catch (error) {
    fail(describeError(error));
  }
  if (values.help === true) {
    process.stdout.write(webhookUsage);
    return 0;
  }
  const inPod = (process.env['KUBERNETES_SERVICE_HOST'] ?? '') !== '';
  const [host, portText] = splitListen(
    '--listen',
    values.listen ?? (inPod ? '0.0.0.0:8443' : '127.0.0.1:8443'),
  );
  const health =
    values['health-listen'] === undefined
      ? undefined
      : splitListen('--health-listen', values['health-listen']);
  if (health !== undefined && health[1] !== '0' && health[1] === portText && health[0] === host)
    fail('--health-listen is another address than --listen (it serves without client certificates)');
  const timeoutSeconds = Number(values['timeout-seconds']);
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 30)
    fail('--timeout-seconds is an integer from 1 to 30 (the apiserver allows no more)');
  const unmatched = values['no-match-action'];
  if (unmatched !== 'allow' && unmatched !== 'warn' && unmatched !== 'deny')
    fail('--no-match-action is allow, warn or deny');
  const failureOutcome = values['failure-outcome'];
  if (failureOutcome !== 'deny' && failureOutcome !== 'allow') fail('--failure-outcome is deny or allow');
  const scope = values.scope;
  if (scope !== 'opt-out' && scope !== 'opt-in') fail('--scope is opt-out or opt-in');
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined))
    fail('--tls-cert and --tls-key go together');
  const clientAuth = clientAuthOf(values['client-ca'], values['client-name']);
  const positive = (flag: string, text: string | undefined): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) fail(`--${flag} is a whole number`);
    return n;
  };
  const verifiedTtl = positive('verified-ttl-seconds', values['verified-ttl-seconds']);
  const refusedTtl = positive('refused-ttl-seconds', values['refused-ttl-seconds']);
  const verdictEntries = positive('verdict-cache-entries', values['verdict-cache-entries']);
  if (verdictEntries < 1) fail('--verdict-cache-entries is at least 1');
  const attestationEntries = positive('attestation-cache-entries', values['attestation-cache-entries']);
  if (attestationEntries < 1) fail('--attestation-cache-entries is at least 1');
  const bodyLimit = positive('body-limit-bytes', values['body-limit-bytes']);
  setLeafMemoEntries(positive('leaf-memo-entries', values['leaf-memo-entries']));
  const ownNamespace = values.namespace ?? process.env['POD_NAMESPACE'] ?? 'sigward';
  // The same skip rules for admission and the re-check (the apiserver never sends these namespaces'
  // requests, and the re-check must not report their Pods either).
  const skip: SkipSettings = { ownNamespace, scope, excludedNamespaces: values['exclude-namespace'] ?? [] };
  const recheckInterval = positive('recheck-interval-seconds', values['recheck-interval-seconds']);
  const recheckRate = Number(values['recheck-rate']);
  if (!(recheckRate > 0 && recheckRate <= 1000)) fail('--recheck-rate is a number above 0 (at most 1000)');

  const level = values['log-level'] ?? 'info';
  if (!LOG_LEVELS.includes(level)) fail(`--log-level is one of ${LOG_LEVELS.join(', ')}`);
  const logger = createLogger({ level });
  const stops: Array<() => Promise<void> | void> = [];

  // Trust roots (ConfigMap-held ones are watched by kube/ once the cluster is known, below).
  const trustFile = values['trusted-root'];
  let configMaps: ConfigMapWatch | undefined;
  let clusterSource: ClusterPolicySource | undefined;
  let recheck: ContinuousRecheck | undefined;
  // Every root's name and version: a change of trust material starts a re-check round.
  const trustVersion = (): string =>
    trustRoots
      .statuses()
      .map((s) => `${s.trustRoot}=${s.status.version ?? ''}`)
      .join(',');
  const trustRoots = new TrustRootRegistry({
    ...(trustFile === undefined ? {} : { trustedRootFile: trustFile }),
    configMaps: {
      track: (refs) => configMaps?.track(refs),
      read: (ref) => configMaps?.read(ref) ?? Promise.reject(new Error('no cluster connection')),
      where: (ref) => `${ref.namespace ?? ownNamespace}/${ref.name}`,
    },
    refreshed: (name, error) => {
      if (error !== undefined) metrics.trustRootRefreshFailures.inc({ trust_root: name, reason: error.code });
      logRefresh(name, error);
      clusterSource?.trustRootRefreshed(name);
      recheck?.trustRootsChanged(trustVersion());
    },
  });
  stops.push(() => trustRoots.stop());
  const logRefresh = trustRootRefreshLog(
    logger,
    (name) => trustRoots.statuses().find((s) => s.trustRoot === name)?.status,
  );

  const metrics = createMetrics({
    failOpenReasons: [...ERROR_REASONS],
    trustRootFreshness: () => trustRoots.statuses(),
    policyCount: () => policies.current()?.policies.length ?? 0,
    recheckViolations: () => recheck?.violations() ?? [],
  });

  // The cluster, when there is one.
  let cluster: KubeClient | undefined;
  try {
    cluster = kubeConfigAvailable(values.kubeconfig) ? loadKubeConfig(values.kubeconfig) : undefined;
  } catch (error) {
    // A kubeconfig that cannot be used: one line naming the file and the entry, not a stack trace.
    fail(describeError(error));
  }
  let credentials: CredentialsSource | undefined;
  let keys: SecretPublicKeys | undefined;
  let events: EventRecorder | undefined;
  let eventsApi: EventsApi | undefined;
  let namespaces: NamespaceLabels | undefined;
  let leader: LeaderElector | undefined;
  const core = cluster === undefined ? undefined : new CoreApi(cluster);
  // Stopped last (stops run in reverse): the informers and the Lease release still use it.
  if (cluster !== undefined) stops.push(() => cluster.close());
  if (cluster !== undefined && core !== undefined) {
    credentials = new PullSecretKeychains(core, {
      events: {
        unreadable: (what, status) => logger.warn({ what, status }, 'pull credentials not readable; skipped'),
      },
    });
    keys = new SecretPublicKeys(core);
    eventsApi = new EventsApi(cluster);
    events = new EventRecorder(eventsApi, {
      instance: hostname(),
      onDropped: (cause) => metrics.eventsDropped.inc({ cause }),
      onError: (error) => logger.warn({ err: describeError(error) }, 'event not recorded'),
    });
    namespaces = new NamespaceLabels(cluster, (error) =>
      logger.warn({ err: describeError(error) }, 'namespace informer failed; retrying'),
    );
    configMaps = new ConfigMapWatch(cluster, {
      defaultNamespace: ownNamespace,
      changed: () => trustRoots.configMapsChanged(),
      failed: (where, error, retryInMs) =>
        logger.warn(
          { configMap: where, err: describeError(error), retryInMs },
          'TrustRoot ConfigMap watch failed; retrying',
        ),
    });
    stops.push(() => configMaps?.stop());
  }

  // Policies.
  // What was last logged per resource (bounded by the resources, not by their edits over time).
  const reported = new Map<string, string>();
  // Findings Events only for objects read from the cluster (a file's policy has no object to regard).
  let policiesFromCluster = false;
  const onSnapshot = (snapshot: PolicySnapshot): void => {
    trustRoots.sync(snapshot.trustRoots);
    const kindOf = (r: (typeof snapshot.resources)[number]): string =>
      r.apiGroup === undefined ? r.kind : `${r.kind}.${r.apiGroup}`;
    const invalid = snapshot.resources
      .filter((r) => r.errors.length > 0)
      .map((r) => `${kindOf(r)}/${r.name}`);
    // Every compile error and warning with its field path, once per resource generation: an operator
    // reads why a policy is invalid at load, not when an image first hits it.
    for (const r of snapshot.resources) {
      const resource = `${kindOf(r)}/${r.namespace === undefined ? '' : `${r.namespace}/`}${r.name}`;
      const key = `${resource}@${r.generation}:${JSON.stringify([r.errors, r.warnings ?? []])}`;
      if (reported.get(resource) === key) continue;
      reported.set(resource, key);
      for (const e of r.errors)
        logger.error(
          { resource, field: e.field, problem: e.message },
          'policy invalid: images it names are refused (POLICY_INVALID)',
        );
      for (const w of r.warnings ?? [])
        logger.warn({ resource, field: w.field, problem: w.message }, 'policy compiled with a warning');
      // policy-controller's resources: their status is not ours, so the findings also go to an Event.
      if (r.apiGroup !== undefined && policiesFromCluster && eventsApi !== undefined)
        recordPolicyFindings(
          eventsApi,
          {
            apiVersion: `${r.apiGroup}/v1beta1`,
            kind: r.kind,
            name: r.name,
            ...(r.uid === undefined ? {} : { uid: r.uid }),
            generation: r.generation,
            errors: r.errors,
            warnings: r.warnings ?? [],
          },
          { instance: hostname() },
        ).catch((error: unknown) =>
          logger.warn({ resource, err: describeError(error) }, 'policy findings event not recorded'),
        );
    }
    logger.info(
      { generation: snapshot.generation, policies: snapshot.policies.length, invalid },
      'policy snapshot updated',
    );
    recheck?.policiesChanged();
  };
  let policies: PolicySnapshotSource & { readonly synced: boolean; stop(): Promise<void> };
  let policyOrigin: string;
  if (values.policies !== undefined || cluster === undefined) {
    const dir = values.policies ?? SAMPLE_POLICIES;
    const source = new FilePolicySource(dir, {
      changed: onSnapshot,
      failed: (error) =>
        logger.error({ err: describeError(error) }, 'policy files do not parse; keeping the previous ones'),
    });
    source.watch();
    onSnapshot(source.current());
    policies = source;
    policyOrigin = `files in ${dir}`;
  } else {
    policiesFromCluster = true;
    const source = new ClusterPolicySource(cluster, {
      isLeader: () => leader?.leading ?? false,
      trustRootRefresh: (name) => trustRoots.refreshState(name),
      policyControllerPolicies: values['policy-controller-policies'] === true,
      events: {
        changed: onSnapshot,
        synced: (snapshot) =>
          logger.info({ policies: snapshot.policies.length }, 'policies synced from the cluster'),
        informerFailed: (kind, error, retryInMs) =>
          logger.warn({ kind, err: describeError(error), retryInMs }, 'policy informer failed; retrying'),
        statusFailed: (resource, error) =>
          logger.warn(
            { kind: resource.kind, name: resource.name, err: describeError(error) },
            'status not written',
          ),
      },
    });
    clusterSource = source;
    leader = new LeaderElector(new LeaseApi(cluster), {
      namespace: ownNamespace,
      name: 'sigward-status-writer',
      identity: `${hostname()}-${process.pid}`,
      onChange: (leading) => {
        logger.info({ leading }, 'status writer lease');
        if (leading) source.syncStatus();
        void recheck?.leading(leading);
      },
      onError: (error) => logger.debug({ err: describeError(error) }, 'lease not renewed'),
    });
    void source.start();
    leader.start();
    policies = source;
    policyOrigin =
      values['policy-controller-policies'] === true
        ? 'the cluster (ClusterImagePolicy, ImagePolicy, TrustRoot; policy.sigstore.dev ClusterImagePolicy)'
        : 'the cluster (ClusterImagePolicy, ImagePolicy, TrustRoot)';
    stops.push(() => leader?.stop());
  }
  stops.push(() => policies.stop());
  if (namespaces !== undefined) {
    void namespaces.start();
    stops.push(() => namespaces?.stop());
  }

  // Engine.
  const registry = new RegistryAccess({
    insecureRegistries: values['allow-insecure-registry'] ?? [],
    registryEndpoints: testRegistryEndpoints(),
    onExchange: (e) => metrics.registryExchange(e),
  });
  stops.push(() => registry.close());
  const observer: EngineObserver = {
    verification: ({ policy, authority, result, reason }) =>
      metrics.countVerification(policy, authority, result, reason),
    attestation: (labels) => metrics.attestationVerifications.inc(labels),
    verificationTime: (policy, seconds) => metrics.verificationDuration.observe({ policy }, seconds),
    cacheLookup: metrics.cacheLookup,
    failOpen: (reason) => metrics.failOpen.inc({ reason }),
    finding: (finding) => {
      if (finding.outcome === 'audit') logger.warn({ audit: finding }, 'audit-mode policy failure');
      events?.record(finding);
    },
  };
  // Pull secrets first, then the webhook's own sources (a docker config file, the kubelet's credential
  // provider plugins, the cloud exchange), as the kubelet tries its credential providers.
  let cloud;
  try {
    cloud = combineKeychains(
      ...[
        registryConfigKeychain(values['registry-config']),
        credentialProviderKeychain(values),
        cloudKeychain(values['cloud-credentials'], { transport: registry.transport }),
      ].filter((k) => k !== undefined),
    );
  } catch (error) {
    fail(describeError(error));
  }
  const pullSecrets = credentials;
  const workloadCredentials: CredentialsSource = {
    keychainFor: async (workload) =>
      pullSecrets === undefined ? cloud : combineKeychains(await pullSecrets.keychainFor(workload), cloud),
    // A policy's signatureRepository.pullSecretRef (the workload's chain, cloud included, follows it).
    ...(pullSecrets?.secretKeychain === undefined
      ? {}
      : { secretKeychain: (ref) => pullSecrets.secretKeychain!(ref) }),
  };
  const decider = new Decider(
    {
      resolver: registry,
      verifier: registry,
      trustRoots,
      observer,
      credentials: workloadCredentials,
      ...(keys === undefined ? {} : { keys }),
    },
    {
      deadlineMs: deadlineFor(timeoutSeconds),
      evaluation: { unmatched, errors: failureOutcome === 'allow' ? 'audit' : 'deny' },
      ownNamespace,
      cache: {
        positiveTtlMs: verifiedTtl * 1000,
        negativeTtlMs: refusedTtl * 1000,
        maxVerdicts: verdictEntries,
        maxAttestations: attestationEntries,
      },
    },
  );
  if (values.recheck === true) {
    if (cluster === undefined || leader === undefined)
      fail(
        '--recheck needs the cluster (a kubeconfig, and policies from the cluster rather than --policies)',
      );
    recheck = new ContinuousRecheck({
      cluster,
      decider,
      policies,
      skip,
      ...(keys === undefined
        ? {}
        : { keys, keyChanges: (listener: () => Promise<void>) => keys.onChange(listener) }),
      ...(namespaces === undefined ? {} : { namespaceLabels: (ns: string) => namespaces?.labels(ns) }),
      ...(events === undefined ? {} : { events }),
      metrics,
      logger,
      options: { intervalSeconds: recheckInterval, perSecond: recheckRate },
    });
    recheck.trustRootsChanged(trustVersion());
    if (leader.leading) void recheck.leading(true);
    stops.push(() => recheck?.stop());
  }
  const engine = new ReviewEngine({
    decider,
    policies,
    skip,
    ...(namespaces === undefined ? {} : { namespaceLabels: (ns: string) => namespaces?.labels(ns) }),
    patch: { templates: values['pin-templates'] === true },
    observer,
  });

  // TLS.
  let tls: { certFile: string; keyFile: string };
  if (values['tls-cert'] !== undefined && values['tls-key'] !== undefined) {
    tls = { certFile: values['tls-cert'], keyFile: values['tls-key'] };
  } else {
    tls = selfSignedCertificate(host);
  }

  const stopWatchers = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop();
  };
  const readiness = (): Readiness => {
    const reasons: string[] = [];
    if (!policies.synced) reasons.push('policies not synced yet');
    if (!trustRoots.loaded) reasons.push('no trusted root loaded');
    return { ready: reasons.length === 0, reasons };
  };
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      host,
      port: Number(portText),
      tls,
      ...(clientAuth === undefined ? {} : { clientAuth }),
      ...(health === undefined ? {} : { health: { host: health[0], port: Number(health[1]) } }),
      handleReview: engine.handleNow,
      readiness,
      metrics,
      logger,
      bodyLimitBytes: bodyLimit,
      drainDelayMs: inPod ? 3000 : 0,
      stopWatchers,
    });
  } catch (error) {
    await stopWatchers();
    const onHealth = health !== undefined && (error as { listener?: unknown }).listener === 'health';
    const failure = onHealth
      ? listenFailure(error, `${health[0]}:${health[1]}`, '--health-listen')
      : listenFailure(error, `${host}:${portText}`);
    process.stderr.write(`sigward webhook: ${failure}\n`);
    return 1;
  }
  // Heard from the moment the server listens, before anything says so: a SIGTERM between the
  // "listening" line and a later handler met Node's default action (exit at once, no drain).
  const signalled = new Promise<void>((resolveSignal) => {
    const onSignal = (signal: string): void => {
      logger.info({ signal }, 'shutting down: readiness off, draining, stopping watchers');
      resolveSignal();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  const snapshot = policies.current();
  const trustedRoot = trustFile ?? 'public-good (embedded in @sigstore/tuf, TUF refresh in the background)';
  const deadlineMs = deadlineFor(timeoutSeconds);
  logger.info(
    {
      url: server.url,
      policies: snapshot?.policies.length ?? 0,
      policyOrigin,
      trustedRoot,
      deadlineMs,
      unmatched,
      failureOutcome,
      selfSigned: values['tls-cert'] === undefined,
      clientCertificates: clientAuth === undefined ? 'not required' : 'required',
      ...(clientAuth?.names === undefined ? {} : { clientNames: clientAuth.names }),
      ...(server.healthUrl === undefined ? {} : { healthUrl: server.healthUrl }),
    },
    'listening',
  );
  if (clientAuth !== undefined && health === undefined)
    logger.warn(
      'client certificates required and no --health-listen: kubelet probes and Prometheus, which present none, cannot reach /livez, /readyz or /metrics',
    );
  // For the person at the terminal: stdout carries only JSON log lines (collectors parse them), so
  // the summary and the self-signed CA (the caBundle to register the webhook with) go to stderr.
  process.stderr.write(
    `sigward webhook: listening on ${server.url} (/validate, /mutate, /livez, /readyz, /metrics)\n` +
      (clientAuth === undefined
        ? ''
        : `  callers need a client certificate from ${clientAuth.caFile}${clientAuth.names === undefined ? '' : ` naming ${clientAuth.names.join(', ')}`}\n`) +
      (server.healthUrl === undefined
        ? ''
        : `  health: ${server.healthUrl} (/livez, /readyz, /metrics; no client certificate)\n`) +
      `  policies: ${snapshot?.policies.length ?? 0} from ${policyOrigin}\n` +
      `  trusted root: ${trustedRoot}\n` +
      `  deadline: ${deadlineMs} ms (timeoutSeconds ${timeoutSeconds}); unmatched images: ${unmatched}; on errors: ${failureOutcome}\n` +
      (values['tls-cert'] === undefined
        ? `  no --tls-cert given: serving a self-signed certificate. Its CA (the caBundle):\n${readFileSync(tls.certFile, 'utf8')}`
        : ''),
  );

  // After each burst of reviews, once a minute passed without one, memory V8 kept from it goes back
  // (idle-collection.ts).
  const idleCollection = startIdleCollection({
    onCollect: ({ ms, rssBefore, rssAfter }) =>
      logger.debug(
        { ms: Math.round(ms), rssMiB: [rssBefore, rssAfter].map((b) => Math.round(b / 2 ** 20)) },
        'memory returned after a burst',
      ),
  });
  if (idleCollection === undefined)
    logger.info(
      'node runs without --expose-gc: memory taken by a burst of reviews stays with the process (the chart and the image set the flag in NODE_OPTIONS)',
    );

  await signalled;
  idleCollection?.stop();
  await server.shutdown();
  // process.exit follows (cli/main.ts): its flush cannot wait for a log write under way on a slow stdout.
  await linesWritten(logger, LOG_DRAIN_MS);
  return 0;
}

/** Why the listener did not open, in one line with what to do (not a stack trace). */
export function listenFailure(error: unknown, address: string, flag = '--listen'): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE')
    return `${address} is already in use (another sigward webhook or \`npm start\` still running?): stop it, or pass ${flag} HOST:PORT with a free port`;
  if (code === 'EACCES')
    return `not allowed to listen on ${address}: pick a port above 1023, or run with the right to bind it`;
  if (code === 'EADDRNOTAVAIL')
    return `${address} is not an address of this machine: pass ${flag} with one of its addresses (or 0.0.0.0)`;
  return `cannot serve on ${address}: ${describeError(error)}`;
}

function splitListen(flag: string, listen: string): [string, string] {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(listen);
  if (match === null) fail(`${flag} wants HOST:PORT, got "${listen}"`);
  return [match[1]!.replace(/^\[|\]$/g, ''), match[2]!];
}

/** --client-ca and --client-name, checked before anything starts (the bundle is read once here). */
function clientAuthOf(
  caFile: string | undefined,
  names: readonly string[] | undefined,
): ClientAuth | undefined {
  if (caFile === undefined) {
    if (names !== undefined)
      fail('--client-name needs --client-ca (names are checked on certificates from it)');
    return undefined;
  }
  if (names?.some((n) => n.trim() === '')) fail('--client-name is a name, not empty');
  try {
    readClientCaBundle(caFile);
  } catch (error) {
    fail(describeError(error));
  }
  return { caFile, ...(names === undefined ? {} : { names }) };
}

/** A self-signed serving certificate (its own CA) for localhost and the listen address, via openssl. */
function selfSignedCertificate(host: string): { certFile: string; keyFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sigward-tls-'));
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  const ip = (a: string): boolean => /^[\d.]+$/.test(a) || a.includes(':');
  const names = new Set(['DNS:localhost', 'IP:127.0.0.1', 'IP:::1', `DNS:${hostname()}`]);
  if (host !== '0.0.0.0' && host !== '::') names.add(ip(host) ? `IP:${host}` : `DNS:${host}`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '30',
      '-subj',
      '/CN=sigward webhook',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-addext',
      `subjectAltName=${[...names].join(',')}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,digitalSignature,keyCertSign',
      '-addext',
      'extendedKeyUsage=serverAuth',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { certFile, keyFile };
}
