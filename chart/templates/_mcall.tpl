{{/*
The program's configuration file, mcall.yaml, in the layout of lib/config/schema.ts.
Environment set on the pods (LEADER_ELECTION, NAMESPACE, HOSTNAME, MCALL_TASKS_ROUND,
MCALL_TASKS_WORKER_SELECTOR, MCALL_TASKS_SIGNING_KEY_FILE) adds what only the pod knows.
*/}}
{{- define "dz-mcall.mcallYaml" -}}
{{- $v := .Values -}}
request:
  subject: {{ $v.subject | toString | quote }}
  timeout: {{ $v.timeout | toJson }}
  type: {{ $v.defaultType }}
  shell: {{ $v.shell }}
  maxOutputBytes: {{ $v.maxOutputBytes | int64 }}
  inputs:
{{- range $v.tasks }}
    - input: {{ .input | toString | quote }}
      {{- if .name }}
      name: {{ .name | toString | quote }}
      {{- end }}
      {{- if .type }}
      type: {{ .type }}
      {{- end }}
      {{- if hasKey . "expect" }}
      expect: {{ .expect | toString | quote }}
      {{- end }}
      {{- if hasKey . "timeout" }}
      timeout: {{ .timeout | toJson }}
      {{- end }}
      {{- if hasKey . "shell" }}
      shell: {{ .shell }}
      {{- end }}
      {{- if hasKey . "body" }}
      body: {{ .body | toString | quote }}
      {{- end }}
      {{- with .headers }}
      headers:
        {{- range $k, $val := . }}
        {{ $k | quote }}: {{ $val | toString | quote }}
        {{- end }}
      {{- end }}
      {{- if hasKey . "retries" }}
      retries: {{ .retries | int64 }}
      {{- end }}
      {{- if hasKey . "interval" }}
      interval: {{ .interval | toJson }}
      {{- end }}
      {{- if hasKey . "schedule" }}
      schedule: {{ .schedule | toString | quote }}
      {{- end }}
{{- end }}
response:
  format: {{ $v.outputFormat }}
worker:
  number: {{ $v.workers | int64 }}
  # On SIGTERM running tasks get the pod's grace period minus a margin, then are handed back.
  terminationGracePeriod: {{ printf "%ss" (toString ($v.terminationGracePeriodSeconds | int64)) | quote }}
log:
  level: {{ $v.logLevel }}
webserver:
  # The image never serves the mcall HTTP API from this chart; it runs leader mode.
  enable: false
election:
  enabled: true
  leaseName: {{ include "dz-mcall.leaseName" . }}
  leaseDuration: {{ $v.election.leaseDuration | toJson }}
  renewDeadline: {{ $v.election.renewDeadline | toJson }}
  retryPeriod: {{ $v.election.retryPeriod | toJson }}
  releaseOnCancel: {{ $v.election.releaseOnCancel }}
tasks:
  app: {{ include "dz-mcall.app" . }}
  workerSelector: {{ include "dz-mcall.selectorString" . }}
  # The Lease, task ConfigMaps and summaries are owned by this release's config ConfigMap, so
  # Kubernetes deletes them with it on `helm uninstall`.
  owner: {{ include "dz-mcall.configName" . }}
  interval: {{ $v.interval | toJson }}
  pollInterval: {{ $v.pollInterval | toJson }}
  historyLimit: {{ $v.historyLimit | int64 }}
  failedHistoryLimit: {{ $v.failedHistoryLimit | int64 }}
  maxAttempts: {{ $v.maxAttempts | int64 }}
  stuckGrace: {{ $v.stuckGrace | toJson }}
  leaderRunsTasks: {{ $v.leaderRunsTasks }}
  signingKeyFile: /etc/dz-mcall/signing/signing-key
  insecureUnsignedTasks: {{ $v.insecureUnsignedTasks }}
  roundDeadline: {{ $v.roundDeadline | toJson }}
  {{- if eq $v.mode "cronjob" }}
  # The CronJob's schedule is the tick: no task's own schedule may be finer (checked at start).
  schedule: {{ $v.schedule | toString | quote }}
  {{- end }}
  timeZone: {{ $v.timeZone | toString | quote }}
metrics:
  enable: true
  host: 0.0.0.0
  port: {{ $v.metrics.port | int64 }}
  pushgateway:
    url: {{ $v.metrics.pushgateway.url | quote }}
    job: {{ $v.metrics.pushgateway.job | quote }}
    timeout: {{ $v.metrics.pushgateway.timeout | toJson }}
{{- end }}
