{{/*
Expand the name of the chart.
*/}}
{{- define "dz-mcall.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "dz-mcall.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The CronJob's name: at most 52 characters, because the controller appends 11 to name its Jobs.
*/}}
{{- define "dz-mcall.cronJobName" -}}
{{- include "dz-mcall.fullname" . | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "dz-mcall.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "dz-mcall.labels" -}}
helm.sh/chart: {{ include "dz-mcall.chart" . }}
{{ include "dz-mcall.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels (name and instance only: selectors are immutable).
*/}}
{{- define "dz-mcall.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dz-mcall.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The selector labels as a label-selector string, e.g.
app.kubernetes.io/name=dz-mcall,app.kubernetes.io/instance=dz-mcall
*/}}
{{- define "dz-mcall.selectorString" -}}
{{- printf "app.kubernetes.io/name=%s,app.kubernetes.io/instance=%s" (include "dz-mcall.name" .) .Release.Name }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "dz-mcall.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dz-mcall.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The `app` label value of pods and task ConfigMaps (mcall.yaml tasks.app).
*/}}
{{- define "dz-mcall.app" -}}
{{- default (include "dz-mcall.fullname" .) .Values.app }}
{{- end }}

{{/*
The Lease name (mcall.yaml election.leaseName).
*/}}
{{- define "dz-mcall.leaseName" -}}
{{- default (printf "%s-leader" (include "dz-mcall.fullname" .)) .Values.election.leaseName }}
{{- end }}

{{/*
Name of the config ConfigMap.
*/}}
{{- define "dz-mcall.configName" -}}
{{- printf "%s-config" (include "dz-mcall.fullname" .) }}
{{- end }}

{{/*
Name of the Secret holding the task-signing key, and the key inside it.
*/}}
{{- define "dz-mcall.signingKeySecretName" -}}
{{- default (printf "%s-signing-key" (include "dz-mcall.fullname" .)) .Values.signingKey.existingSecret }}
{{- end }}
{{- define "dz-mcall.signingKeySecretKey" -}}
{{- if .Values.signingKey.existingSecret }}
{{- default "signing-key" .Values.signingKey.existingSecretKey }}
{{- else }}
{{- "signing-key" }}
{{- end }}
{{- end }}

{{/*
The container image reference.
*/}}
{{- define "dz-mcall.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion (toString .Values.image.tag)) }}
{{- end }}
{{- end }}

{{/*
Converts a duration as mcall.yaml accepts it ("1h30m", "5m", "250ms", "10s", or a number of
seconds) to whole milliseconds. Returns "" when the text is not a duration. Restates
lib/time/duration.ts (parseDurationMs); tests/chart/durations_test.ts runs one table of cases
through both.
Usage: include "dz-mcall.durationMs" "5m"
*/}}
{{- define "dz-mcall.durationMs" -}}
{{- $text := toString . | trim }}
{{- if regexMatch "^[0-9]+(\\.[0-9]+)?$" $text }}
{{- round (mulf $text 1000) 0 | int64 }}
{{- else if regexMatch "^([0-9]+(\\.[0-9]+)?(ms|h|m|s))+$" $text }}
{{- $total := 0.0 }}
{{- range (regexFindAll "[0-9]+(\\.[0-9]+)?(ms|h|m|s)" $text -1) }}
{{- $unit := regexFind "(ms|h|m|s)$" . }}
{{- $n := float64 (trimSuffix $unit .) }}
{{- $size := get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000) $unit }}
{{- $total = addf $total (mulf $n $size) }}
{{- end }}
{{- round $total 0 | int64 }}
{{- end }}
{{- end }}

{{/*
The time between due times of a cron schedule, in seconds, for the regular forms the chart can
read: every minute, every N minutes (a minute field "star slash N", N dividing 60), hourly at
minute M, daily at M H, `@hourly`, `@daily`, `@midnight`, `@weekly` and `@every <duration>`; ""
for any other schedule, which the program alone judges at start. Restates lib/time/cadence.ts's
gapsMs for those forms (tests/chart/cadence_test.ts runs one table through both).
Usage: include "dz-mcall.cronGapSeconds" "0 6 * * *"
*/}}
{{- define "dz-mcall.cronGapSeconds" -}}
{{- $s := toString . | trim }}
{{- $fields := splitList " " (regexReplaceAll "[ \t]+" $s " ") }}
{{- if regexMatch "^@every " $s }}
{{- $ms := include "dz-mcall.durationMs" (trimPrefix "@every " $s | trim) }}
{{- if $ms }}{{ div ($ms | int64) 1000 }}{{ end }}
{{- else if eq $s "@hourly" }}3600
{{- else if or (eq $s "@daily") (eq $s "@midnight") }}86400
{{- else if eq $s "@weekly" }}604800
{{- else if and (eq (len $fields) 5) (eq (join " " (rest (rest $fields))) "* * *") }}
{{- $m := index $fields 0 }}
{{- $h := index $fields 1 }}
{{- if and (eq $m "*") (eq $h "*") }}60
{{- else if and (regexMatch "^\\*/[0-9]+$" $m) (eq $h "*") }}
{{- $n := trimPrefix "*/" $m | int64 }}
{{- if and (gt $n 0) (le $n 60) (eq (mod 60 $n) 0) }}{{ mul $n 60 }}{{ end }}
{{- else if and (regexMatch "^[0-9]+$" $m) (eq $h "*") }}3600
{{- else if and (regexMatch "^[0-9]+$" $m) (regexMatch "^[0-9]+$" $h) }}86400
{{- end }}
{{- end }}
{{- end }}

{{/*
Collects every rule violation the JSON schema cannot express (relations between values, per-type
task fields) and fails once with all of them.
*/}}
{{- define "dz-mcall.validateValues" -}}
{{- $errors := list }}
{{- $v := .Values }}
{{- /* Leader-election timings, as lib/election/timings.ts: the lease in whole seconds,
leaseDuration > renewDeadline > 1.2 × retryPeriod (tests/chart/lease_timings_test.ts runs one
table of cases through both). */}}
{{- $lease := include "dz-mcall.durationMs" $v.election.leaseDuration | int64 }}
{{- $renew := include "dz-mcall.durationMs" $v.election.renewDeadline | int64 }}
{{- $retry := include "dz-mcall.durationMs" $v.election.retryPeriod | int64 }}
{{- if ne (mod $lease 1000) 0 }}
{{- $errors = append $errors (printf "election.leaseDuration (%v) must be a whole number of seconds (a Lease stores seconds)" $v.election.leaseDuration) }}
{{- end }}
{{- if le $lease $renew }}
{{- $errors = append $errors (printf "election.renewDeadline (%v) must be less than election.leaseDuration (%v)" $v.election.renewDeadline $v.election.leaseDuration) }}
{{- end }}
{{- if le (mulf $renew 10) (mulf $retry 12) }}
{{- $errors = append $errors (printf "election.renewDeadline (%v) must be more than 1.2 × election.retryPeriod (%v)" $v.election.renewDeadline $v.election.retryPeriod) }}
{{- end }}
{{- /* Lower bounds the program enforces (lib/config/schema.ts), checked before install. */}}
{{- $mins := list
  (list "interval" $v.interval 1000)
  (list "pollInterval" $v.pollInterval 100)
  (list "roundDeadline" $v.roundDeadline 1000)
  (list "timeout" $v.timeout 1)
  (list "election.leaseDuration" $v.election.leaseDuration 1000)
  (list "election.renewDeadline" $v.election.renewDeadline 500)
  (list "election.retryPeriod" $v.election.retryPeriod 100) }}
{{- range $mins }}
{{- if lt (include "dz-mcall.durationMs" (index . 1) | int64) (index . 2 | int64) }}
{{- $errors = append $errors (printf "%s (%v) must be at least %dms" (index . 0) (index . 1) (index . 2)) }}
{{- end }}
{{- end }}
{{- /* A one-shot round must be able to finish before Kubernetes kills the Job. */}}
{{- if eq $v.mode "cronjob" }}
{{- $round := include "dz-mcall.durationMs" $v.roundDeadline | int64 }}
{{- if le (mul $v.activeDeadlineSeconds 1000) $round }}
{{- $errors = append $errors (printf "activeDeadlineSeconds (%v) must exceed roundDeadline (%v) so the program ends the round before Kubernetes kills the Job" $v.activeDeadlineSeconds $v.roundDeadline) }}
{{- end }}
{{- end }}
{{- /* Tasks: unique names, URLs for get/post, per-type fields. */}}
{{- $names := dict }}
{{- range $i, $t := $v.tasks }}
{{- $type := default $v.defaultType $t.type }}
{{- $label := printf "tasks[%d]" $i }}
{{- if $t.name }}
{{- $label = printf "tasks[%d] (%s)" $i $t.name }}
{{- if hasKey $names $t.name }}
{{- $errors = append $errors (printf "%s: the name %q is used twice; task names must be unique" $label $t.name) }}
{{- end }}
{{- $_ := set $names $t.name true }}
{{- end }}
{{- if and (ne $type "cmd") (not (regexMatch "^https?://" (toString $t.input))) }}
{{- $errors = append $errors (printf "%s: a %s task needs an http:// or https:// URL as input, got %q" $label $type (toString $t.input)) }}
{{- end }}
{{- if and (eq $type "cmd") (or (hasKey $t "body") (hasKey $t "headers")) }}
{{- $errors = append $errors (printf "%s: body and headers apply to get and post tasks only, not to cmd" $label) }}
{{- end }}
{{- if and (ne $type "cmd") (hasKey $t "shell") }}
{{- $errors = append $errors (printf "%s: shell applies to cmd tasks only, not to %s" $label $type) }}
{{- end }}
{{- /* The task's own cadence, as lib/config/cadence_rules.ts (checkCadences): interval or
schedule, not both; an interval in whole seconds; in cronjob mode none finer than the rounds'
schedule (where the chart can read both schedules' gaps: dz-mcall.cronGapSeconds). */}}
{{- $own := "" }}
{{- $gap := 0 }}
{{- if and (hasKey $t "interval") (hasKey $t "schedule") }}
{{- $errors = append $errors (printf "%s sets interval and schedule: use one" $label) }}
{{- else if hasKey $t "interval" }}
{{- $ms := include "dz-mcall.durationMs" $t.interval }}
{{- if or (not $ms) (lt ($ms | int64) 1000) (ne (mod ($ms | int64) 1000) 0) }}
{{- $errors = append $errors (printf "%s: interval (%v) must be a whole number of seconds, at least 1s" $label $t.interval) }}
{{- else }}
{{- $own = printf "interval %v" $t.interval }}
{{- $gap = div ($ms | int64) 1000 }}
{{- end }}
{{- else if hasKey $t "schedule" }}
{{- $own = printf "schedule %q" (toString $t.schedule) }}
{{- $g := include "dz-mcall.cronGapSeconds" $t.schedule }}
{{- if $g }}{{ $gap = $g | int64 }}{{ end }}
{{- end }}
{{- if and (eq $v.mode "cronjob") (gt $gap 0) }}
{{- $tick := include "dz-mcall.cronGapSeconds" $v.schedule }}
{{- if and $tick (lt $gap ($tick | int64)) }}
{{- $errors = append $errors (printf "%s has %s, finer than the rounds' schedule %q: it could not run at each of its due times" $label $own (toString $v.schedule)) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.signingKey.existingSecret (not .Values.signingKey.existingSecretKey) }}
{{- $errors = append $errors "signingKey.existingSecretKey must name the key inside signingKey.existingSecret" }}
{{- end }}
{{- if $errors }}
{{- fail (printf "\n\ndz-mcall: invalid values:\n  - %s\n" (join "\n  - " $errors)) }}
{{- end }}
{{- end }}
