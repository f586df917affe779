{{/*
Fails the render with a message naming the value and what it accepts. Included once, from
deployment.yaml, so every render checks the values before anything is applied.
*/}}
{{- define "palisade.validate" -}}
{{- $v := .Values -}}
{{- $modes := list "generated" "certManager" "existingSecret" -}}
{{- if not (has $v.certificates.mode $modes) -}}
{{- fail (printf "palisade: certificates.mode must be one of generated, certManager or existingSecret (got %q)" (toString $v.certificates.mode)) -}}
{{- end -}}
{{- if eq $v.certificates.mode "existingSecret" -}}
{{- if not $v.certificates.existingSecret.name -}}
{{- fail "palisade: certificates.mode=existingSecret needs certificates.existingSecret.name (a kubernetes.io/tls Secret in the release namespace)" -}}
{{- end -}}
{{- if not (trim (toString $v.certificates.existingSecret.caBundle)) -}}
{{- fail "palisade: certificates.mode=existingSecret needs certificates.existingSecret.caBundle (the PEM CA that signed the Secret's certificate)" -}}
{{- end -}}
{{- end -}}
{{- if eq $v.certificates.mode "generated" -}}
{{- if lt (int $v.certificates.generated.validityDays) 1 -}}
{{- fail (printf "palisade: certificates.generated.validityDays must be at least 1 (got %v)" $v.certificates.generated.validityDays) -}}
{{- end -}}
{{- end -}}
{{- if not (kindIs "float64" $v.replicaCount | or (kindIs "int" $v.replicaCount) | or (kindIs "int64" $v.replicaCount)) -}}
{{- fail (printf "palisade: replicaCount must be a number (got %q)" (toString $v.replicaCount)) -}}
{{- end -}}
{{- if lt (int $v.replicaCount) 1 -}}
{{- fail (printf "palisade: replicaCount must be at least 1 (got %v)" $v.replicaCount) -}}
{{- end -}}
{{- $timeout := int $v.webhook.timeoutSeconds -}}
{{- if or (lt $timeout 1) (gt $timeout 30) -}}
{{- fail (printf "palisade: webhook.timeoutSeconds must be between 1 and 30 (got %v)" $v.webhook.timeoutSeconds) -}}
{{- end -}}
{{- range $hook := list "mutating" "validating" "workloads" -}}
{{- $policy := (get $v.webhook $hook).failurePolicy -}}
{{- if not (has $policy (list "Fail" "Ignore")) -}}
{{- fail (printf "palisade: webhook.%s.failurePolicy must be Fail or Ignore (got %q)" $hook (toString $policy)) -}}
{{- end -}}
{{- end -}}
{{- if $v.autoscaling.enabled -}}
{{- $min := int $v.autoscaling.minReplicas -}}
{{- if or (lt $min 1) (lt (int $v.autoscaling.maxReplicas) $min) -}}
{{- fail (printf "palisade: autoscaling needs 1 <= minReplicas <= maxReplicas (got %v and %v)" $v.autoscaling.minReplicas $v.autoscaling.maxReplicas) -}}
{{- end -}}
{{- if not (dig "requests" "cpu" "" (default dict $v.resources)) -}}
{{- fail "palisade: autoscaling on CPU needs resources.requests.cpu (the utilization target is a percentage of it)" -}}
{{- end -}}
{{- end -}}
{{- if not (has $v.server.logFormat (list "json" "text")) -}}
{{- fail (printf "palisade: server.logFormat must be json or text (got %q)" (toString $v.server.logFormat)) -}}
{{- end -}}
{{- if not (has $v.server.logLevel (list "debug" "info" "warn" "error")) -}}
{{- fail (printf "palisade: server.logLevel must be debug, info, warn or error (got %q)" (toString $v.server.logLevel)) -}}
{{- end -}}
{{- $delay := int $v.server.shutdownDelaySeconds -}}
{{- $grace := int $v.server.shutdownGraceSeconds -}}
{{- if or (lt $delay 0) (lt $grace 1) (ge (add $delay $grace) (int $v.terminationGracePeriodSeconds)) -}}
{{- fail (printf "palisade: server.shutdownDelaySeconds (%v) + server.shutdownGraceSeconds (%v) must be below terminationGracePeriodSeconds (%v), or the kubelet kills requests in flight" $v.server.shutdownDelaySeconds $v.server.shutdownGraceSeconds $v.terminationGracePeriodSeconds) -}}
{{- end -}}
{{- if and $v.server.kubernetesVersion (not (regexMatch "^[0-9]+\\.[0-9]+$" (toString $v.server.kubernetesVersion))) -}}
{{- fail (printf "palisade: server.kubernetesVersion must look like 1.31 (got %q)" (toString $v.server.kubernetesVersion)) -}}
{{- end -}}
{{- if not $v.webhook.optOutLabel -}}
{{- fail "palisade: webhook.optOutLabel must not be empty (namespaces need a way to opt out)" -}}
{{- end -}}
{{- $seccomp := default dict $v.podSecurityContext.seccompProfile -}}
{{- if and (eq (toString $seccomp.type) "Localhost") (not $seccomp.localhostProfile) -}}
{{- fail "palisade: podSecurityContext.seccompProfile.type=Localhost needs localhostProfile (the profile's path under the kubelet's seccomp directory)" -}}
{{- end -}}
{{- if not (kindIs "map" $v.policies) -}}
{{- fail "palisade: policies must be a map of policy name to NamespacePolicy spec" -}}
{{- end -}}
{{- if kindIs "string" $v.policies.source -}}
{{- fail (printf "palisade: policies.source moved to the top-level value policySource (set policySource: %s); every key of policies is a policy name" $v.policies.source) -}}
{{- end -}}
{{- if not (has (toString (default "configMaps" $v.policySource)) (list "configMaps" "directory")) -}}
{{- fail "palisade: policySource must be configMaps or directory" -}}
{{- end -}}
{{- range $name, $spec := $v.policies -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$" $name) -}}
{{- fail (printf "palisade: policies.%s: a policy name must be lower-case letters, digits, '-' and '.' (it names a ConfigMap key and appears in messages)" $name) -}}
{{- end -}}
{{- if not (kindIs "map" $spec) -}}
{{- fail (printf "palisade: policies.%s must be a NamespacePolicy spec (a map with at least `namespaces`)" $name) -}}
{{- end -}}
{{- if not (and (kindIs "slice" $spec.namespaces) $spec.namespaces) -}}
{{- fail (printf "palisade: policies.%s.namespaces must be a non-empty list of namespace names or globs (\"*\" is the cluster default)" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
