{{/* The audit CronJob's names and labels: not the selector labels, so neither the Service nor the
NetworkPolicy (which denies egress) selects its pods. */}}
{{- define "palisade.auditName" -}}
{{- printf "%s-audit" (include "palisade.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "palisade.auditLabels" -}}
helm.sh/chart: {{ include "palisade.chart" . }}
app.kubernetes.io/name: {{ include "palisade.name" . }}-audit
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: audit
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* core/v1 ObjectReference as an OpenAPI schema (the Report CRD's scope and resources). */}}
{{- define "palisade.openreports.objectReference" -}}
type: object
x-kubernetes-map-type: atomic
properties:
  apiVersion: {type: string}
  fieldPath: {type: string}
  kind: {type: string}
  name: {type: string}
  namespace: {type: string}
  resourceVersion: {type: string}
  uid: {type: string}
{{- end -}}

{{/* meta/v1 LabelSelector as an OpenAPI schema. */}}
{{- define "palisade.openreports.labelSelector" -}}
type: object
x-kubernetes-map-type: atomic
properties:
  matchExpressions:
    type: array
    x-kubernetes-list-type: atomic
    items:
      type: object
      required: [key, operator]
      properties:
        key: {type: string}
        operator: {type: string}
        values:
          type: array
          x-kubernetes-list-type: atomic
          items: {type: string}
  matchLabels:
    type: object
    additionalProperties: {type: string}
{{- end -}}
