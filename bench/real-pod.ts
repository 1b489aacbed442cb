// The AdmissionReview kube-apiserver sends for a Pod that a Deployment's ReplicaSet controller creates,
// as a real cluster's is (v1.31: managedFields, owner reference, the projected service-account token
// volume, probes, resources, tolerations the admission plugins add): ~5 KiB of JSON, where the
// harness's podReview is ~0.4 KiB. What a webhook parses and, if it keeps it, holds per review.
// `npm run bench:policy-controller -- --pod real`.

let uid = 0;

export function realPodReview(image: string): object {
  const n = ++uid;
  const labels = { app: 'web', 'pod-template-hash': '7d9c5b6f4', 'app.kubernetes.io/part-of': 'shop' };
  const container = (which: string, image: string, port: number) => ({
    name: which,
    image,
    imagePullPolicy: 'IfNotPresent',
    args: ['--listen=:8080', '--metrics=:9090', '--log-format=json'],
    ports: [
      { name: 'http', containerPort: port, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
    ],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      {
        name: 'POD_NAMESPACE',
        valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } },
      },
      { name: 'GOMEMLIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '0' } } },
      { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'web-db', key: 'url' } } },
      { name: 'FEATURE_FLAGS', value: 'checkout-v2,search-suggest,fast-cart' },
    ],
    resources: { limits: { cpu: '1', memory: '512Mi' }, requests: { cpu: '250m', memory: '256Mi' } },
    livenessProbe: {
      httpGet: { path: '/livez', port: 'http', scheme: 'HTTP' },
      initialDelaySeconds: 10,
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    },
    readinessProbe: {
      httpGet: { path: '/readyz', port: 'http', scheme: 'HTTP' },
      timeoutSeconds: 1,
      periodSeconds: 5,
      successThreshold: 1,
      failureThreshold: 3,
    },
    volumeMounts: [
      { name: 'config', mountPath: '/etc/web', readOnly: true },
      {
        name: 'kube-api-access-5k2xq',
        mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
        readOnly: true,
      },
    ],
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 65532,
    },
  });
  const fields = (keys: string[]) => Object.fromEntries(keys.map((k) => [k, {}]));
  return {
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: {
      uid: `5f0c2a4e-1b3d-4c6f-9a8b-${n.toString(16).padStart(12, '0')}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'apps',
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: '0b1a4f0e-6d2c-4c1e-8f5a-3e2d1c0b9a87',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      object: {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: {
          generateName: 'web-7d9c5b6f4-',
          namespace: 'apps',
          uid: `9e8d7c6b-5a4f-4e3d-8c2b-${n.toString(16).padStart(12, '0')}`,
          creationTimestamp: '2026-12-07T12:00:00Z',
          labels,
          annotations: {
            'kubectl.kubernetes.io/restartedAt': '2026-12-07T11:58:41Z',
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': '9090',
          },
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'ReplicaSet',
              name: 'web-7d9c5b6f4',
              uid: '3c2b1a09-8f7e-4d6c-5b4a-392817161514',
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
          managedFields: [
            {
              manager: 'kube-controller-manager',
              operation: 'Update',
              apiVersion: 'v1',
              time: '2026-12-07T12:00:00Z',
              fieldsType: 'FieldsV1',
              fieldsV1: {
                'f:metadata': {
                  'f:annotations': fields([
                    '.',
                    'f:kubectl.kubernetes.io/restartedAt',
                    'f:prometheus.io/port',
                  ]),
                  'f:generateName': {},
                  'f:labels': fields(['.', 'f:app', 'f:app.kubernetes.io/part-of', 'f:pod-template-hash']),
                  'f:ownerReferences': { '.': {}, 'k:{"uid":"3c2b1a09-8f7e-4d6c-5b4a-392817161514"}': {} },
                },
                'f:spec': {
                  'f:containers': {
                    'k:{"name":"app"}': fields([
                      '.',
                      'f:args',
                      'f:env',
                      'f:image',
                      'f:imagePullPolicy',
                      'f:livenessProbe',
                      'f:name',
                      'f:ports',
                      'f:readinessProbe',
                      'f:resources',
                      'f:securityContext',
                      'f:terminationMessagePath',
                      'f:terminationMessagePolicy',
                      'f:volumeMounts',
                    ]),
                  },
                  'f:dnsPolicy': {},
                  'f:enableServiceLinks': {},
                  'f:restartPolicy': {},
                  'f:schedulerName': {},
                  'f:securityContext': {},
                  'f:serviceAccount': {},
                  'f:serviceAccountName': {},
                  'f:terminationGracePeriodSeconds': {},
                  'f:topologySpreadConstraints': {},
                  'f:volumes': { '.': {}, 'k:{"name":"config"}': {} },
                },
              },
            },
          ],
        },
        spec: {
          volumes: [
            { name: 'config', configMap: { name: 'web-config', defaultMode: 420 } },
            {
              name: 'kube-api-access-5k2xq',
              projected: {
                sources: [
                  { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
                  { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
                  {
                    downwardAPI: {
                      items: [
                        {
                          path: 'namespace',
                          fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' },
                        },
                      ],
                    },
                  },
                ],
                defaultMode: 420,
              },
            },
          ],
          containers: [container('app', image, 8080)],
          restartPolicy: 'Always',
          terminationGracePeriodSeconds: 30,
          dnsPolicy: 'ClusterFirst',
          serviceAccountName: 'default',
          serviceAccount: 'default',
          securityContext: { fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          schedulerName: 'default-scheduler',
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'topology.kubernetes.io/zone',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: { app: 'web' } },
            },
          ],
          tolerations: [
            {
              key: 'node.kubernetes.io/not-ready',
              operator: 'Exists',
              effect: 'NoExecute',
              tolerationSeconds: 300,
            },
            {
              key: 'node.kubernetes.io/unreachable',
              operator: 'Exists',
              effect: 'NoExecute',
              tolerationSeconds: 300,
            },
          ],
          priority: 0,
          enableServiceLinks: true,
          preemptionPolicy: 'PreemptLowerPriority',
        },
        status: {},
      },
      oldObject: null,
      dryRun: false,
      options: {
        kind: 'CreateOptions',
        apiVersion: 'meta.k8s.io/v1',
        fieldManager: 'kube-controller-manager',
      },
    },
  };
}
