// sigward's own Kubernetes client (src/kube/client) against a real kube-apiserver: the admin's
// kubeconfig (client certificate), the in-cluster service account with a real TokenRequest token (and
// a token file replaced while in use), exec credential plugins (a small script printing a real token,
// or the admin's certificate), the apiserver's refusals as typed errors (401, 403, 404, 409, 410 on a
// watch from a resourceVersion compacted away), a body over the cap, a silent watch cut off, and the
// informer listing, watching and re-listing after a 410 for real. The apiserver runs without its watch
// cache, so a watch reads etcd and a compacted resourceVersion is 410 Expired on demand (the watch
// cache would replay from its own window instead, which no test can move).
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { parse, stringify } from 'yaml';
import { SigwardError } from '../src/errors.ts';
import { CoreApi, LeaseApi } from '../src/kube/client/apis.ts';
import { KubeApiError } from '../src/kube/client/errors.ts';
import { KubeClient } from '../src/kube/client/http.ts';
import type { KubeClientOptions } from '../src/kube/client/http.ts';
import { inClusterConnection } from '../src/kube/client/in-cluster.ts';
import { loadKubeconfigFiles } from '../src/kube/client/kubeconfig-file.ts';
import type { ConfigMap } from '../src/kube/client/resources.ts';
import { ResourceInformer } from '../src/kube/informer.ts';
import { NamespaceLabels } from '../src/kube/namespaces.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';
import { startKube, type Kube } from './world/kube.ts';
import { kubectlOk } from './world/kubectl.ts';
import { createRunDir, type RunDir } from './world/run-dir.ts';

const NS = 'client-e2e';

describe("sigward's Kubernetes client against a real apiserver", () => {
  let runDir: RunDir;
  let kube: Kube;
  let dir: string;
  let failed = false;
  const check = stepsNotingFailure(() => (failed = true));
  const clients: KubeClient[] = [];
  const client = (files: string[], options: KubeClientOptions = {}): KubeClient => {
    const c = new KubeClient(loadKubeconfigFiles(files), options);
    clients.push(c);
    return c;
  };
  /** Who the apiserver thinks we are (SelfSubjectReview). */
  const whoami = async (c: KubeClient): Promise<string> => {
    const review = await c.request<{ status?: { userInfo?: { username?: string } } }>(
      'POST',
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
    );
    return review.status?.userInfo?.username ?? '';
  };
  const kubeconfigWithUser = (name: string, user: object): string => {
    const admin = parse(readFileSync(kube.kubeconfig, 'utf8')) as Record<string, unknown>;
    const file = path.join(dir, `${name}.kubeconfig`);
    writeFileSync(
      file,
      stringify({
        ...admin,
        users: [{ name, user }],
        contexts: [{ name: 'ctx', context: { cluster: 'world', user: name, namespace: NS } }],
        'current-context': 'ctx',
      }),
    );
    return file;
  };
  const adminCredentials = (): { cert: string; key: string } => {
    const admin = parse(readFileSync(kube.kubeconfig, 'utf8')) as {
      users: { user: Record<string, string> }[];
    };
    const user = admin.users[0]!.user;
    return {
      cert: Buffer.from(user['client-certificate-data']!, 'base64').toString('utf8'),
      key: Buffer.from(user['client-key-data']!, 'base64').toString('utf8'),
    };
  };
  const rejects = async (work: Promise<unknown>, status: number, message: RegExp): Promise<KubeApiError> => {
    let caught: unknown;
    try {
      await work;
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof KubeApiError, `expected a KubeApiError, got ${String(caught)}`);
    assert.equal(caught.status, status, caught.message);
    assert.match(caught.message, message);
    return caught;
  };

  before(async () => {
    runDir = createRunDir('sigward-kube-client-');
    dir = runDir.sub('client');
    try {
      kube = await startKube(runDir, { apiserverArgs: ['--watch-cache=false'] });
      await kube.ensureNamespace(NS);
      for (const sa of ['reader', 'rotated']) await kube.createServiceAccount(NS, sa);
      const role = {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'configmap-reader', namespace: NS },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }],
      };
      const binding = {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'configmap-reader', namespace: NS },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
        subjects: ['reader', 'rotated'].map((name) => ({ kind: 'ServiceAccount', name, namespace: NS })),
      };
      await kubectlOk(kube.kubectl, ['apply', '-f', '-'], { input: JSON.stringify(role) });
      await kubectlOk(kube.kubectl, ['apply', '-f', '-'], { input: JSON.stringify(binding) });
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await kube?.stop();
    if (failed) console.error(`kube-client e2e: logs kept in ${runDir.keepLogs('kube-client')}`);
    runDir.remove();
  });

  check('the admin kubeconfig (client certificate, embedded CA) reads and writes', async () => {
    const admin = client([kube.kubeconfig]);
    assert.equal(await whoami(admin), 'admin');
    const namespaces = await new CoreApi(admin).listNamespaces();
    assert.ok(namespaces.items.some((n) => n.metadata?.name === NS));
  });

  check('refusals are typed: 404 NotFound and 409 AlreadyExists with the apiserver message', async () => {
    const admin = client([kube.kubeconfig]);
    const missing = await rejects(
      new CoreApi(admin).readSecret({ namespace: NS, name: 'nope' }),
      404,
      /GET 127\.0\.0\.1:\d+\/api\/v1\/namespaces\/client-e2e\/secrets\/nope: HTTP 404 NotFound: secrets "nope" not found/,
    );
    assert.equal(missing.reason, 'NotFound');
    const leases = new LeaseApi(admin);
    const lease = { metadata: { name: 'twice', namespace: NS }, spec: { holderIdentity: 'a' } };
    await leases.create(NS, lease);
    const conflict = await rejects(leases.create(NS, lease), 409, /already exists/);
    assert.equal(conflict.reason, 'AlreadyExists');
  });

  check('a token the apiserver does not know is a 401 KubeApiError, the token never in it', async () => {
    const token = 'not-a-real-token-0123456789abcdef';
    const error = await rejects(
      whoami(client([kubeconfigWithUser('bogus', { token })])),
      401,
      /HTTP 401 Unauthorized/,
    );
    assert.doesNotMatch(error.message, new RegExp(token));
  });

  check(
    'in-cluster: a real TokenRequest token, the mounted CA and namespace; RBAC refusals are 403',
    async () => {
      const mount = runDir.sub('serviceaccount');
      writeFileSync(
        path.join(mount, 'token'),
        await kube.createToken(NS, 'reader', { audience: kube.issuer }),
      );
      writeFileSync(path.join(mount, 'ca.crt'), kube.caPem);
      writeFileSync(path.join(mount, 'namespace'), NS);
      const url = new URL(kube.url);
      const connection = inClusterConnection({
        env: { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port },
        dir: mount,
      });
      const inPod = new KubeClient(connection);
      clients.push(inPod);
      assert.equal(connection.namespace, NS);
      assert.equal(await whoami(inPod), `system:serviceaccount:${NS}:reader`);
      const list = await inPod.request<{ items: unknown[] }>('GET', `/api/v1/namespaces/${NS}/configmaps`);
      assert.ok(Array.isArray(list.items));
      await rejects(
        new CoreApi(inPod).readSecret({ namespace: NS, name: 'x' }),
        403,
        /HTTP 403 Forbidden: secrets "x" is forbidden: User "system:serviceaccount:client-e2e:reader" cannot get resource "secrets"/,
      );
    },
  );

  check('a rotated token file is read again after a 401, and the request succeeds with it', async () => {
    const mount = runDir.sub('rotating');
    writeFileSync(path.join(mount, 'token'), 'stale-token-the-apiserver-refuses');
    writeFileSync(path.join(mount, 'ca.crt'), kube.caPem);
    const url = new URL(kube.url);
    const inPod = new KubeClient(
      inClusterConnection({
        env: { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port },
        dir: mount,
      }),
    );
    clients.push(inPod);
    await rejects(whoami(inPod), 401, /Unauthorized/);
    // The kubelet writes the new token; the client still holds the stale one, gets a 401, re-reads.
    writeFileSync(
      path.join(mount, 'token'),
      await kube.createToken(NS, 'rotated', { audience: kube.issuer }),
    );
    assert.equal(await whoami(inPod), `system:serviceaccount:${NS}:rotated`);
  });

  check('an exec plugin printing a real token authenticates; its answer is cached', async () => {
    const tokenFile = path.join(dir, 'exec-token');
    writeFileSync(tokenFile, await kube.createToken(NS, 'reader', { audience: kube.issuer }));
    const plugin = path.join(dir, 'token-plugin.sh');
    writeFileSync(
      plugin,
      `#!/bin/sh\necho run >> "${plugin}.runs"\n` +
        `printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2999-01-01T00:00:00Z"}}' "$(cat ${tokenFile})"\n`,
    );
    chmodSync(plugin, 0o755);
    const viaExec = client([
      kubeconfigWithUser('exec-user', {
        exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' },
      }),
    ]);
    assert.equal(await whoami(viaExec), `system:serviceaccount:${NS}:reader`);
    assert.equal(await whoami(viaExec), `system:serviceaccount:${NS}:reader`);
    assert.equal(readFileSync(`${plugin}.runs`, 'utf8').trim().split('\n').length, 1);
  });

  check('an exec plugin answering a client certificate and key authenticates over TLS', async () => {
    const { cert, key } = adminCredentials();
    const plugin = path.join(dir, 'cert-plugin.sh');
    const answer = {
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      status: { clientCertificateData: cert, clientKeyData: key },
    };
    writeFileSync(plugin, `#!/bin/sh\ncat <<'JSON'\n${JSON.stringify(answer)}\nJSON\n`);
    chmodSync(plugin, 0o755);
    const viaExec = client([
      kubeconfigWithUser('cert-user', {
        exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: plugin },
      }),
    ]);
    assert.equal(await whoami(viaExec), 'admin');
  });

  check(
    'an exec plugin whose token is refused runs once more after the 401, then the 401 stands',
    async () => {
      const plugin = path.join(dir, 'refused-plugin.sh');
      writeFileSync(
        plugin,
        `#!/bin/sh\necho run >> "${plugin}.runs"\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"refused-by-the-apiserver-token"}}'\n`,
      );
      chmodSync(plugin, 0o755);
      const viaExec = client([
        kubeconfigWithUser('refused', {
          exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin },
        }),
      ]);
      await rejects(whoami(viaExec), 401, /Unauthorized/);
      assert.equal(readFileSync(`${plugin}.runs`, 'utf8').trim().split('\n').length, 2);
    },
  );

  check('a failing exec plugin fails the request with its reason, sending nothing', async () => {
    const viaExec = client([
      kubeconfigWithUser('missing-plugin', {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: 'sigward-e2e-missing-plugin',
          installHint: 'install the cloud CLI',
        },
      }),
    ]);
    await assert.rejects(whoami(viaExec), (e: unknown) => {
      assert.ok(e instanceof SigwardError);
      assert.equal(e.code, 'KUBE_EXEC_PLUGIN_FAILED');
      assert.match(e.message, /user "missing-plugin" is not installed .*install the cloud CLI/);
      return true;
    });
  });

  /** Compacts etcd up to now through its JSON gateway (the apiserver does it every 5 minutes). */
  const compactEtcd = async (): Promise<void> => {
    const etcd = async (call: string, body: object): Promise<{ header?: { revision?: string } }> => {
      const response = await fetch(`${kube.etcdUrl}/v3/${call}`, {
        method: 'POST',
        body: JSON.stringify(body),
      });
      return (await response.json()) as { header?: { revision?: string } };
    };
    const { header } = await etcd('kv/range', { key: Buffer.from('/').toString('base64') });
    assert.ok(header?.revision, 'etcd told its revision');
    await etcd('kv/compaction', { revision: header.revision, physical: true });
  };

  check('a watch from a resourceVersion compacted away in etcd is 410 Expired', async () => {
    const admin = client([kube.kubeconfig]);
    await compactEtcd();
    await rejects(
      admin.watch(
        `/api/v1/namespaces/${NS}/configmaps`,
        { resourceVersion: '1' },
        () => undefined,
        new AbortController().signal,
        10_000,
      ),
      410,
      /HTTP 410 Expired: The resourceVersion for the provided watch is too old/,
    );
  });

  check('an answer over the size cap is refused; a watch silent past its limit is cut off', async () => {
    const small = client([kube.kubeconfig], { maxResponseBytes: 256 });
    await assert.rejects(new CoreApi(small).listNamespaces(), (e: unknown) => {
      assert.ok(e instanceof SigwardError);
      assert.equal(e.code, 'KUBE_RESPONSE_TOO_LARGE');
      assert.match(e.message, /GET 127\.0\.0\.1:\d+\/api\/v1\/namespaces: the answer exceeds 256 bytes/);
      return true;
    });
    const admin = client([kube.kubeconfig]);
    const list = await admin.request<{ metadata: { resourceVersion: string } }>(
      'GET',
      `/api/v1/namespaces/${NS}/secrets`,
    );
    await assert.rejects(
      admin.watch(
        `/api/v1/namespaces/${NS}/secrets`,
        { resourceVersion: list.metadata.resourceVersion },
        () => undefined,
        new AbortController().signal,
        300,
      ),
      (e: unknown) =>
        e instanceof SigwardError && e.code === 'KUBE_TIMEOUT' && /did not answer in time/.test(e.message),
    );
  });

  check('the informer lists, then sees a ConfigMap created and deleted through its watch', async () => {
    const admin = client([kube.kubeconfig]);
    const seen: string[] = [];
    let wake: (() => void) | undefined;
    const informer = new ResourceInformer<ConfigMap>(admin, `/api/v1/namespaces/${NS}/configmaps`, {
      changed: () => wake?.(),
      object: (verb, object) => seen.push(`${verb} ${object.metadata?.name}`),
    });
    const until = async (line: string): Promise<void> => {
      while (!seen.includes(line)) await new Promise<void>((r) => (wake = r));
    };
    try {
      await informer.start();
      assert.equal(informer.synced, true);
      await kubectlOk(kube.kubectl, [
        'create',
        'configmap',
        'watched',
        `--namespace=${NS}`,
        '--from-literal=k=v',
      ]);
      await until('add watched');
      assert.equal(informer.list().find((c) => c.metadata?.name === 'watched')?.data?.['k'], 'v');
      await kubectlOk(kube.kubectl, ['delete', 'configmap', 'watched', `--namespace=${NS}`]);
      await until('delete watched');
      assert.equal(
        informer.list().some((c) => c.metadata?.name === 'watched'),
        false,
      );
    } finally {
      await informer.stop();
    }
  });

  check(
    'an informer resuming from a compacted resourceVersion gets 410 and re-lists what changed',
    async () => {
      const admin = client([kube.kubeconfig]);
      const seen: string[] = [];
      let wake: (() => void) | undefined;
      const failures: unknown[] = [];
      const informer = new ResourceInformer<ConfigMap>(
        admin,
        `/api/v1/namespaces/${NS}/configmaps`,
        {
          changed: () => wake?.(),
          object: (verb, object) => seen.push(`${verb} ${object.metadata?.name}`),
          failed: (error) => failures.push(error),
        },
        { initialMs: 10, maxMs: 20 },
      );
      const until = async (line: string): Promise<void> => {
        while (!seen.includes(line)) await new Promise<void>((r) => (wake = r));
      };
      try {
        await kubectlOk(kube.kubectl, ['create', 'configmap', 'before', `--namespace=${NS}`]);
        await informer.start();
        await until('add before');
        await informer.stop();
        // Away (an outage, a restart): changes happen and etcd compacts the version the informer holds.
        await kubectlOk(kube.kubectl, ['create', 'configmap', 'while-away', `--namespace=${NS}`]);
        await kubectlOk(kube.kubectl, ['delete', 'configmap', 'before', `--namespace=${NS}`]);
        await compactEtcd();
        await informer.start();
        await until('add while-away');
        await until('delete before');
        assert.deepEqual(
          informer.list().map((c) => c.metadata?.name),
          ['while-away'],
        );
        assert.deepEqual(failures, [], 'a 410 re-lists at once, without a failure and a backoff');
      } finally {
        await informer.stop();
      }
    },
  );

  check('namespace labels: undefined before the first list, then each namespace by name', async () => {
    await kubectlOk(kube.kubectl, ['label', '--overwrite', 'namespace', NS, 'sigward.dev/exclude=true']);
    const labels = new NamespaceLabels(client([kube.kubeconfig]));
    assert.equal(labels.labels(NS), undefined);
    try {
      await labels.start();
      assert.equal(labels.labels(NS)?.['sigward.dev/exclude'], 'true');
      assert.equal(labels.labels('no-such-namespace'), undefined);
    } finally {
      await labels.stop();
    }
  });
});
