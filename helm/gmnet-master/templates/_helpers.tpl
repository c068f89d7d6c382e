{{/*
Chart name, truncated to the 63 characters a DNS label allows.
*/}}
{{- define "gmnet-master.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name. Kept to 59 characters so that "-tcp"/"-udp"
suffixes (split service mode) still fit in 63.
*/}}
{{- define "gmnet-master.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 59 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 59 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 59 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gmnet-master.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard labels (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/).
*/}}
{{- define "gmnet-master.labels" -}}
helm.sh/chart: {{ include "gmnet-master.chart" . }}
{{ include "gmnet-master.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gmnet
{{- end }}

{{/*
Selector labels: stable across upgrades, never add version-dependent labels here.
*/}}
{{- define "gmnet-master.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gmnet-master.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: master
{{- end }}

{{- define "gmnet-master.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gmnet-master.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gmnet-master.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Name of the Secret the chart renders (redis url / password, admin token).
*/}}
{{- define "gmnet-master.secretName" -}}
{{- include "gmnet-master.fullname" . }}
{{- end }}

{{/*
Which Redis mode is configured: "url", "sentinel", "cluster" or "none".
Fails on conflicting settings.
*/}}
{{- define "gmnet-master.redisMode" -}}
{{- $r := .Values.redis }}
{{- $modes := list }}
{{- if or $r.url $r.existingSecret }}{{ $modes = append $modes "url" }}{{ end }}
{{- if $r.sentinel.sentinels }}{{ $modes = append $modes "sentinel" }}{{ end }}
{{- if $r.cluster.nodes }}{{ $modes = append $modes "cluster" }}{{ end }}
{{- if gt (len $modes) 1 }}
{{- fail (printf "redis: configure only one of url/existingSecret, sentinel.sentinels, cluster.nodes (got %s)" (join ", " $modes)) }}
{{- end }}
{{- if and $r.url $r.existingSecret }}
{{- fail "redis: set either redis.url or redis.existingSecret, not both" }}
{{- end }}
{{- if $modes }}{{ first $modes }}{{ else }}none{{ end }}
{{- end }}

{{/*
True ("true") when the chart's own Secret has at least one key.
*/}}
{{- define "gmnet-master.needsSecret" -}}
{{- $r := .Values.redis }}
{{- $a := .Values.adminToken }}
{{- if or $r.url (and $r.password (not $r.existingPasswordSecret)) (and (not $a.existingSecret) (or $a.value $a.generate)) }}true{{ end }}
{{- end }}

{{/*
Validation of cross-field constraints that the JSON schema cannot express.
*/}}
{{- define "gmnet-master.validate" -}}
{{- $mode := include "gmnet-master.redisMode" . }}
{{- $replicas := int .Values.replicaCount }}
{{- if and (eq $mode "none") (not .Values.redis.allowInMemoryWithReplicas) (or (gt $replicas 1) .Values.autoscaling.enabled) }}
{{- fail "replicaCount > 1 or autoscaling needs shared state: set redis.url, redis.existingSecret, redis.sentinel.sentinels or redis.cluster.nodes (or redis.allowInMemoryWithReplicas=true for tests)" }}
{{- end }}
{{- $pre := 0 }}
{{- if ne .Values.lifecycle.preStop.mode "none" }}{{ $pre = int .Values.lifecycle.preStop.sleepSeconds }}{{ end }}
{{- $drain := 0 }}
{{- if .Values.config.drainTimeoutMs }}{{ $drain = div (add (int64 .Values.config.drainTimeoutMs) 999) 1000 }}{{ end }}
{{- $need := add $pre $drain 5 }}
{{- if lt (int .Values.terminationGracePeriodSeconds) (int $need) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be >= preStop sleep (%d s) + drain (%d s) + 5 s margin = %d" (int .Values.terminationGracePeriodSeconds) (int $pre) (int $drain) (int $need)) }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled .Values.podDisruptionBudget.minAvailable .Values.podDisruptionBudget.maxUnavailable }}
{{- fail "podDisruptionBudget: set only one of minAvailable / maxUnavailable" }}
{{- end }}
{{- end }}

{{/*
One env entry {name, value, indent}; nothing when value is null or "".
Numbers are rendered as integers (YAML numbers arrive as float64 and would
otherwise print as 1e+06), booleans as "true"/"false".
*/}}
{{- define "gmnet-master.env" -}}
{{- $v := .value }}
{{- if not (or (kindIs "invalid" $v) (and (kindIs "string" $v) (eq $v ""))) }}
{{- $s := toString $v }}
{{- if or (kindIs "float64" $v) (kindIs "int" $v) (kindIs "int64" $v) }}{{ $s = $v | int64 | toString }}{{ end }}
{{- printf "- name: %s\n  value: %s" .name (quote $s) | nindent (int .indent) }}
{{- end }}
{{- end }}
