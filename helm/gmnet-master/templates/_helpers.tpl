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
labels: the masters' objects; componentLabels: another component of the
release (the bundled Valkey "redis", the `helm test` pod "test").
*/}}
{{- define "gmnet-master.labels" -}}
{{ include "gmnet-master.componentLabels" (dict "ctx" . "component" "master") }}
{{- end }}

{{- define "gmnet-master.componentLabels" -}}
helm.sh/chart: {{ include "gmnet-master.chart" .ctx }}
{{ include "gmnet-master.componentSelectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: gmnet
{{- end }}

{{/*
Selector labels: stable across upgrades, never add version-dependent labels here.
*/}}
{{- define "gmnet-master.selectorLabels" -}}
{{ include "gmnet-master.componentSelectorLabels" (dict "ctx" . "component" "master") }}
{{- end }}

{{- define "gmnet-master.componentSelectorLabels" -}}
app.kubernetes.io/name: {{ include "gmnet-master.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
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
Which Redis mode is configured: "bundled", "url", "sentinel", "cluster" or
"none" (the first one when several are set: configErrors reports that).
*/}}
{{- define "gmnet-master.redisModes" -}}
{{- $r := .Values.redis }}
{{- $modes := list }}
{{- if $r.enabled }}{{ $modes = append $modes "bundled" }}{{ end }}
{{- if or $r.url $r.existingSecret }}{{ $modes = append $modes "url" }}{{ end }}
{{- if $r.sentinel.sentinels }}{{ $modes = append $modes "sentinel" }}{{ end }}
{{- if $r.cluster.nodes }}{{ $modes = append $modes "cluster" }}{{ end }}
{{- join "," $modes }}
{{- end }}

{{- define "gmnet-master.redisMode" -}}
{{- $modes := include "gmnet-master.redisModes" . }}
{{- if $modes }}{{ first (splitList "," $modes) }}{{ else }}none{{ end }}
{{- end }}

{{/*
The bundled Valkey: its name and selector labels (component "redis", so the
masters' Services and PDB never select it).
*/}}
{{- define "gmnet-master.redisName" -}}
{{- printf "%s-redis" (include "gmnet-master.fullname" .) }}
{{- end }}

{{- define "gmnet-master.redisSelectorLabels" -}}
{{ include "gmnet-master.componentSelectorLabels" (dict "ctx" . "component" "redis") }}
{{- end }}

{{- define "gmnet-master.redisLabels" -}}
{{ include "gmnet-master.componentLabels" (dict "ctx" . "component" "redis") }}
{{- end }}

{{- define "gmnet-master.redisImage" -}}
{{- $i := .Values.redis.bundled.image }}
{{- if $i.digest }}{{ printf "%s@%s" $i.repository $i.digest }}{{ else }}{{ printf "%s:%s" $i.repository $i.tag }}{{ end }}
{{- end }}

{{/*
True ("true") when the chart renders a Redis password into its own Secret:
an explicit redis.password, or a generated one for the bundled Valkey.
*/}}
{{- define "gmnet-master.chartRedisPassword" -}}
{{- $r := .Values.redis }}
{{- if and (not $r.existingPasswordSecret) (or $r.password $r.enabled) }}true{{ end }}
{{- end }}

{{/*
True ("true") when the chart's own Secret has at least one key.
*/}}
{{- define "gmnet-master.needsSecret" -}}
{{- $a := .Values.adminToken }}
{{- if or .Values.redis.url (include "gmnet-master.chartRedisPassword" .) (and (not $a.existingSecret) (or $a.value $a.generate)) }}true{{ end }}
{{- end }}

{{/*
The drain deadline in whole seconds, as the node will use it:
config.drainTimeoutMs when set, else the app's derived default
(config.serverPingIntervalMs, or 180000, + 30000).
*/}}
{{- define "gmnet-master.drainSeconds" -}}
{{- $c := .Values.config }}
{{- $ms := 0 }}
{{- if not (kindIs "invalid" $c.drainTimeoutMs) }}
{{- $ms = int64 $c.drainTimeoutMs }}
{{- else }}
{{- $ms = add (int64 (default 180000 $c.serverPingIntervalMs)) 30000 }}
{{- end }}
{{- div (add $ms 999) 1000 }}
{{- end }}

{{- define "gmnet-master.preStopSeconds" -}}
{{- if eq .Values.lifecycle.preStop.mode "none" }}0{{ else }}{{ int .Values.lifecycle.preStop.sleepSeconds }}{{ end }}
{{- end }}

{{/*
terminationGracePeriodSeconds: the user's number, or preStop + drain + 10 s.
*/}}
{{- define "gmnet-master.gracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add (include "gmnet-master.preStopSeconds" . | int) (include "gmnet-master.drainSeconds" . | int) 10 }}
{{- else }}
{{- int .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
The preStop hook kind actually rendered: "native" (Kubernetes sleep action,
1.30+), "exec" or "none". mode auto picks native where the cluster has it.
*/}}
{{- define "gmnet-master.preStopKind" -}}
{{- $mode := .Values.lifecycle.preStop.mode }}
{{- if eq $mode "auto" }}
{{- if semverCompare ">=1.30-0" .Capabilities.KubeVersion.Version }}native{{ else }}exec{{ end }}
{{- else }}{{ $mode }}{{ end }}
{{- end }}

{{/*
Cross-field checks the JSON schema cannot express, one message per line.
templates/validate.yaml turns them into a render failure (and, under
`helm lint`, into lint errors).
*/}}
{{- define "gmnet-master.configErrors" -}}
{{- $modes := include "gmnet-master.redisModes" . }}
{{- $mode := include "gmnet-master.redisMode" . }}
{{- $r := .Values.redis }}
{{- if gt (len (splitList "," $modes)) 1 }}
redis: configure only one of redis.enabled, url/existingSecret, sentinel.sentinels, cluster.nodes (got {{ $modes }})
{{- end }}
{{- if and $r.url $r.existingSecret }}
redis: set either redis.url or redis.existingSecret, not both
{{- end }}
{{- if and (eq $mode "none") (not $r.allowInMemoryWithReplicas) (or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled) }}
replicaCount > 1 or autoscaling needs shared state: set redis.enabled=true (bundled Valkey) or an external redis.url, redis.existingSecret, redis.sentinel.sentinels or redis.cluster.nodes (or redis.allowInMemoryWithReplicas=true for tests)
{{- end }}
{{- if and (ne .Values.config.proxyProtocol "off") (not .Values.config.proxyTrustedCidrs) }}
config.proxyProtocol={{ .Values.config.proxyProtocol }} needs config.proxyTrustedCidrs: the addresses your balancer connects from (e.g. the VPC CIDR for an AWS NLB in ip mode); every other source is closed
{{- end }}
{{- $pre := include "gmnet-master.preStopSeconds" . | int }}
{{- $drain := include "gmnet-master.drainSeconds" . | int }}
{{- $grace := include "gmnet-master.gracePeriodSeconds" . | int }}
{{- if lt $grace (add $pre $drain 5) }}
terminationGracePeriodSeconds ({{ $grace }}) must be >= preStop sleep ({{ $pre }} s) + drain deadline ({{ $drain }} s) + 5 s = {{ add $pre $drain 5 }}; leave it unset to derive it
{{- end }}
{{- if and (eq .Values.lifecycle.preStop.mode "native") (not (semverCompare ">=1.30-0" .Capabilities.KubeVersion.Version)) }}
lifecycle.preStop.mode=native needs Kubernetes >= 1.30 (this cluster: {{ .Capabilities.KubeVersion.Version }}); use auto or exec
{{- end }}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if and $pdb.enabled (not (kindIs "invalid" $pdb.minAvailable)) (not (kindIs "invalid" $pdb.maxUnavailable)) }}
podDisruptionBudget: set only one of minAvailable / maxUnavailable
{{- end }}
{{- if and .Values.autoscaling.enabled (not (or .Values.autoscaling.targetCPUUtilizationPercentage .Values.autoscaling.targetMemoryUtilizationPercentage)) }}
autoscaling.enabled needs targetCPUUtilizationPercentage and/or targetMemoryUtilizationPercentage
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.metricsService.enabled) }}
serviceMonitor.enabled requires metricsService.enabled
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
