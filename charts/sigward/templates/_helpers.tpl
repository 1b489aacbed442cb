{{/* Resource name prefix: the release name, plus "-sigward" unless it already says so. */}}
{{- define "sigward.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "sigward.selectorLabels" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sigward.labels" -}}
{{ include "sigward.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
The account sigward runs as, and the one its ClusterRole is bound to. With create false it must be
named: falling back to the namespace's `default` account would hand every Pod there that runs as
`default` sigward's rights (get on every Secret of the cluster).
*/}}
{{- define "sigward.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sigward.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false (sigward's RBAC is bound to that account; never the namespace's default one)" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sigward.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret the serving certificate lives in, whichever way it is made. */}}
{{- define "sigward.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "existingSecret" -}}
{{- required "certificates.existingSecret.name is required when certificates.mode is existingSecret" .Values.certificates.existingSecret.name -}}
{{- else -}}
{{- printf "%s-tls" (include "sigward.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The DNS names the apiserver dials: <service>.<namespace>.svc (and the shorter forms). */}}
{{- define "sigward.dnsNames" -}}
{{- $svc := include "sigward.fullname" . -}}
{{- list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.cluster.local" $svc .Release.Namespace) | toJson -}}
{{- end -}}

{{/*
Namespaces never checked, in every mode: kube-system (its Pods must start for the cluster, and so for
sigward, to work) and sigward's own namespace (its replacement Pods would otherwise wait on itself).
*/}}
{{- define "sigward.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: {{ concat (list "kube-system" .Release.Namespace) .Values.webhook.excludeNamespaces | uniq | toJson }}
{{- if eq .Values.webhook.scope "opt-in" }}
  - key: sigward.dev/include
    operator: In
    values: ["true"]
{{- else }}
  - key: sigward.dev/exclude
    operator: NotIn
    values: ["true"]
{{- end }}
{{- end -}}

{{- define "sigward.workloadRules" -}}
- apiGroups: ["apps"]
  apiVersions: ["v1"]
  operations: ["CREATE", "UPDATE"]
  resources: ["deployments", "replicasets", "statefulsets", "daemonsets"]
  scope: Namespaced
- apiGroups: ["batch"]
  apiVersions: ["v1"]
  operations: ["CREATE", "UPDATE"]
  resources: ["jobs", "cronjobs"]
  scope: Namespaced
- apiGroups: [""]
  apiVersions: ["v1"]
  operations: ["CREATE", "UPDATE"]
  resources: ["replicationcontrollers"]
  scope: Namespaced
{{- end -}}

{{/*
Asked by the apiserver before it calls sigward: an UPDATE whose spec is unchanged (labels, annotations,
finalizers, owner references) changes no image, so it is never sent. The server skips such updates
anyway (skip rule no-image-change); deciding it here means a controller that only relabels Pods or
removes a finalizer is not blocked, with failurePolicy Fail, while every replica is down. Any change of
the spec (an image, or anything else) is sent and judged as before.
*/}}
{{- define "sigward.matchConditions" -}}
- name: spec-changed-or-not-an-update
  expression: "request.operation != 'UPDATE' || !has(object.spec) || !has(oldObject.spec) || object.spec != oldObject.spec"
{{- end -}}

{{- define "sigward.podRules" -}}
- apiGroups: [""]
  apiVersions: ["v1"]
  operations: ["CREATE", "UPDATE"]
  resources: ["pods"]
  scope: Namespaced
# `kubectl debug` adds containers through this subresource, not through an update of the Pod.
- apiGroups: [""]
  apiVersions: ["v1"]
  operations: ["UPDATE"]
  resources: ["pods/ephemeralcontainers"]
  scope: Namespaced
{{- end -}}

{{/*
The rule for TrustRoot ConfigMaps (spec.configMapRef), in each namespace they may live in: sigward
watches each named ConfigMap (list+watch with fieldSelector metadata.name=<name>) so a replaced root
takes effect at once. RBAC cannot scope list/watch to names only known from TrustRoots, so this is
granted per namespace (the release namespace, plus rbac.trustRootConfigMapNamespaces), never
cluster-wide.
*/}}
{{- define "sigward.configMapRule" -}}
# TrustRoot ConfigMaps: each one named by a TrustRoot is watched (see sigward.configMapRule).
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["list", "watch"]
{{- end }}

{{/*
The volume source of the client CA bundle when clientAuth is on (its key mounted as ca.crt): the
chart's ConfigMap made from clientAuth.caBundle, or the named ConfigMap or Secret. Exactly one source.
*/}}
{{- define "sigward.clientCaVolume" -}}
{{- with .Values.clientAuth -}}
{{- if .enabled -}}
{{- $sources := 0 -}}
{{- if .caBundle }}{{ $sources = add1 $sources }}{{ end -}}
{{- if .existingConfigMap.name }}{{ $sources = add1 $sources }}{{ end -}}
{{- if .existingSecret.name }}{{ $sources = add1 $sources }}{{ end -}}
{{- if ne $sources 1 -}}
{{- fail "clientAuth.enabled needs exactly one of clientAuth.caBundle, clientAuth.existingConfigMap.name and clientAuth.existingSecret.name: the CA that signed the apiserver's client certificate" -}}
{{- end -}}
{{- if .caBundle -}}
{{- if not (contains "-----BEGIN CERTIFICATE-----" .caBundle) -}}
{{- fail "clientAuth.caBundle is PEM text (-----BEGIN CERTIFICATE-----), not base64" -}}
{{- end -}}
configMap:
  name: {{ include "sigward.fullname" $ }}-client-ca
  items:
    - key: ca.crt
      path: ca.crt
{{- else if .existingConfigMap.name -}}
configMap:
  name: {{ .existingConfigMap.name }}
  items:
    - key: {{ .existingConfigMap.key }}
      path: ca.crt
{{- else -}}
secret:
  secretName: {{ .existingSecret.name }}
  items:
    - key: {{ .existingSecret.key }}
      path: ca.crt
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
