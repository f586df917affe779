{{/* Names */}}
{{- define "palisade.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "palisade.fullname" -}}
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

{{- define "palisade.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "palisade.selectorLabels" -}}
app.kubernetes.io/name: {{ include "palisade.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "palisade.labels" -}}
helm.sh/chart: {{ include "palisade.chart" . }}
{{ include "palisade.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: admission-webhook
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of the `helm test` pod: not the selector labels, or the Service would route to it. */}}
{{- define "palisade.testLabels" -}}
helm.sh/chart: {{ include "palisade.chart" . }}
app.kubernetes.io/name: {{ include "palisade.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: helm-test
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "palisade.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "palisade.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "palisade.policiesConfigMapName" -}}
{{- printf "%s-policies" (include "palisade.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Secret holding tls.crt and tls.key the server serves (and ca.crt in generated mode). */}}
{{- define "palisade.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "existingSecret" -}}
{{- .Values.certificates.existingSecret.name -}}
{{- else -}}
{{- printf "%s-tls" (include "palisade.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The DNS name the API server calls. */}}
{{- define "palisade.serviceHost" -}}
{{- printf "%s.%s.svc" (include "palisade.fullname" .) .Release.Namespace -}}
{{- end -}}

{{- define "palisade.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* "1.31" from the value or from the cluster Helm talks to ("31+" on some providers). */}}
{{- define "palisade.kubernetesVersion" -}}
{{- if .Values.server.kubernetesVersion -}}
{{- .Values.server.kubernetesVersion -}}
{{- else -}}
{{- printf "%s.%s" .Capabilities.KubeVersion.Major (regexReplaceAll "[^0-9]" .Capabilities.KubeVersion.Minor "") -}}
{{- end -}}
{{- end -}}

{{/*
Generated certificates: a CA and a serving certificate for the Service's DNS names. An existing
Secret from an earlier release is reused (`lookup`), so upgrades keep the same CA and the webhooks'
caBundle stays valid. The result is computed once per render and cached, so the Secret and both
webhook configurations see the same CA. Returns YAML: {caCert, tlsCert, tlsKey} as PEM.
*/}}
{{- define "palisade.generatedCertificates" -}}
{{- $cache := .Release -}}
{{- if not (hasKey $cache "palisadeGeneratedCertificates") -}}
{{- $name := include "palisade.tlsSecretName" . -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $name -}}
{{- $data := dict -}}
{{- if $existing -}}{{- $data = default dict $existing.data -}}{{- end -}}
{{- $certs := dict -}}
{{- if and (hasKey $data "ca.crt") (hasKey $data "tls.crt") (hasKey $data "tls.key") -}}
{{- $_ := set $certs "caCert" (index $data "ca.crt" | b64dec) -}}
{{- $_ := set $certs "tlsCert" (index $data "tls.crt" | b64dec) -}}
{{- $_ := set $certs "tlsKey" (index $data "tls.key" | b64dec) -}}
{{- else -}}
{{- $days := int .Values.certificates.generated.validityDays -}}
{{- $service := include "palisade.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- $dnsNames := list $service (printf "%s.%s" $service $ns) (printf "%s.%s.svc" $service $ns) (printf "%s.%s.svc.cluster.local" $service $ns) -}}
{{- /* ECDSA P-256, like the cert-manager mode: smaller and faster handshakes than RSA-2048. */ -}}
{{- $ca := genCAWithKey (printf "%s-ca" $service) $days (genPrivateKey "ecdsa") -}}
{{- $cert := genSignedCertWithKey (printf "%s.%s.svc" $service $ns) nil $dnsNames $days $ca (genPrivateKey "ecdsa") -}}
{{- $_ := set $certs "caCert" $ca.Cert -}}
{{- $_ := set $certs "tlsCert" $cert.Cert -}}
{{- $_ := set $certs "tlsKey" $cert.Key -}}
{{- end -}}
{{- $_ := set $cache "palisadeGeneratedCertificates" $certs -}}
{{- end -}}
{{- toYaml (get $cache "palisadeGeneratedCertificates") -}}
{{- end -}}

{{/* The webhooks' caBundle (base64 PEM), or nothing when cert-manager injects it. */}}
{{- define "palisade.caBundle" -}}
{{- $mode := .Values.certificates.mode -}}
{{- if eq $mode "generated" -}}
{{- (include "palisade.generatedCertificates" . | fromYaml).caCert | b64enc -}}
{{- else if eq $mode "existingSecret" -}}
{{- $bundle := trim .Values.certificates.existingSecret.caBundle -}}
{{- if hasPrefix "-----BEGIN" $bundle -}}{{- $bundle | b64enc -}}{{- else -}}{{- $bundle -}}{{- end -}}
{{- end -}}
{{- end -}}

{{/* Annotations shared by both webhook configurations. */}}
{{- define "palisade.webhookAnnotations" -}}
{{- if eq .Values.certificates.mode "certManager" }}
cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "palisade.tlsSecretName" .) }}
{{- end }}
{{- with .Values.webhook.annotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* clientConfig of a webhook; the argument is a dict {root, path}. */}}
{{- define "palisade.clientConfig" -}}
{{- $root := .root -}}
clientConfig:
  service:
    name: {{ include "palisade.fullname" $root }}
    namespace: {{ $root.Release.Namespace }}
    path: {{ .path }}
    port: {{ $root.Values.service.port }}
  {{- with include "palisade.caBundle" $root }}
  caBundle: {{ . }}
  {{- end }}
{{- end -}}

{{/*
Which namespaces the webhooks see: never kube-system or the release namespace (the cluster and
palisade itself must start without palisade), nor the configured exclusions, nor namespaces with
the opt-out label set to "true".
*/}}
{{- define "palisade.namespaceSelector" -}}
{{- $excluded := concat (list "kube-system" .Release.Namespace) .Values.webhook.excludedNamespaces | uniq -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- toYaml $excluded | nindent 8 }}
    - key: {{ .Values.webhook.optOutLabel }}
      operator: NotIn
      values: ["true"]
    {{- with .Values.webhook.namespaceSelectorExpressions }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* Settings shared by every webhook entry. */}}
{{- define "palisade.webhookCommon" -}}
{{ include "palisade.namespaceSelector" . }}
{{- with .Values.webhook.objectSelector }}
objectSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
matchPolicy: Equivalent
sideEffects: None
admissionReviewVersions: ["v1", "v1beta1"]
timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}
{{- end -}}

{{/* "HOST:PORT", with brackets around an IPv6 host; the argument is (list host port). */}}
{{- define "palisade.hostPort" -}}
{{- $host := index . 0 | toString -}}
{{- if contains ":" $host -}}
{{- printf "[%s]:%v" $host (index . 1) -}}
{{- else -}}
{{- printf "%s:%v" $host (index . 1) -}}
{{- end -}}
{{- end -}}

{{/* Where the server reads policies: "configMaps" (watched through the API) or "directory". */}}
{{- define "palisade.policySource" -}}
{{- default "configMaps" .Values.policySource -}}
{{- end -}}

{{/* "true" when the server talks to the Kubernetes API (policy ConfigMaps or namespace labels). */}}
{{- define "palisade.connected" -}}
{{- or (eq (include "palisade.policySource" .) "configMaps") .Values.server.watchNamespaces -}}
{{- end -}}
