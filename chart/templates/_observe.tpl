{{/*
Seconds between rounds, for the alerts: prometheusRule.roundInterval, else `interval` in
deployment mode, else derived from the CronJob schedule (every N minutes, `@hourly`, `@daily`).
*/}}
{{- define "dz-mcall.roundIntervalSeconds" -}}
{{- $v := .Values }}
{{- $given := toString $v.prometheusRule.roundInterval | trim }}
{{- if $given }}
{{- $ms := include "dz-mcall.durationMs" $given }}
{{- if not $ms }}{{ fail (printf "prometheusRule.roundInterval (%s) is not a duration" $given) }}{{ end }}
{{- div ($ms | int64) 1000 }}
{{- else if eq $v.mode "deployment" }}
{{- div (include "dz-mcall.durationMs" $v.interval | int64) 1000 }}
{{- else }}
{{- $s := toString $v.schedule | trim }}
{{- if regexMatch "^\\*/[0-9]+ \\* \\* \\* \\*$" $s }}
{{- mul (regexFind "[0-9]+" $s | int64) 60 }}
{{- else if eq $s "@hourly" }}3600
{{- else if or (eq $s "@daily") (eq $s "@midnight") }}86400
{{- else }}
{{- fail (printf "prometheusRule.roundInterval: set it; the schedule %q has no fixed interval the chart can derive" $s) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The label matchers of the release's series: scraped from the pods through the metrics Service in
deployment mode (the Prometheus Operator sets job=<Service name>), pushed to the Pushgateway in
cronjob mode (job, namespace and app are the push's grouping labels; scrape it with honor_labels).
*/}}
{{- define "dz-mcall.metricsSelector" -}}
{{- if eq .Values.mode "cronjob" -}}
namespace="{{ .Release.Namespace }}",job="{{ .Values.metrics.pushgateway.job }}",app="{{ include "dz-mcall.app" . }}"
{{- else -}}
namespace="{{ .Release.Namespace }}",job="{{ include "dz-mcall.fullname" . }}-metrics"
{{- end }}
{{- end }}
