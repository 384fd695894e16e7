{{/*
Pod labels: the standard labels, the guide's `app` label (`kubectl get pods -l app=<app>`) and the
component, over podLabels, over commonLabels (the chart's own labels always win: the selectors
and the guide's commands select by them).
*/}}
{{- define "dz-mcall.podLabels" -}}
{{- $own := include "dz-mcall.standardLabels" . | fromYaml }}
{{- $_ := set $own "app" (include "dz-mcall.app" .) }}
{{- $_ = set $own "app.kubernetes.io/component" "worker" }}
{{- toYaml (merge $own (.Values.podLabels | default dict) (.Values.commonLabels | default dict)) }}
{{- end }}

{{/*
The config volume: mcall.yaml at /etc/dz-mcall/mcall.yaml and the signing key at
/etc/dz-mcall/signing/signing-key, projected into one read-only volume (a Secret volume
mounted inside a ConfigMap volume's mount point is fragile across ConfigMap updates).
*/}}
{{- define "dz-mcall.configVolume" -}}
- name: config
  projected:
    defaultMode: 292 # 0444
    sources:
      - configMap:
          name: {{ include "dz-mcall.configName" . }}
          items:
            - key: mcall.yaml
              path: mcall.yaml
      - secret:
          name: {{ include "dz-mcall.signingKeySecretName" . }}
          items:
            - key: {{ include "dz-mcall.signingKeySecretKey" . }}
              path: signing/signing-key
              mode: 288 # 0440: owner and the pods' fsGroup
{{- end }}

{{/*
The environment every program pod gets (the test pod gets the first entries only).
*/}}
{{- define "dz-mcall.baseEnv" -}}
- name: NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: HOSTNAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: MCALL_TASKS_SIGNING_KEY_FILE
  value: /etc/dz-mcall/signing/signing-key
{{- end }}

{{/*
The pod template shared by the CronJob's jobTemplate and the Deployment.
*/}}
{{- define "dz-mcall.podTemplate" -}}
metadata:
  labels:
    {{- include "dz-mcall.podLabels" . | nindent 4 }}
  annotations:
    checksum/config: {{ include "dz-mcall.mcallYaml" . | sha256sum }}
    {{- /* podAnnotations over commonAnnotations; the checksum is the chart's own. */}}
    {{- with omit (merge (deepCopy (.Values.podAnnotations | default dict)) (.Values.commonAnnotations | default dict)) "checksum/config" }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "dz-mcall.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.automountServiceAccountToken }}
  enableServiceLinks: false # no <SERVICE>_PORT variables: the program warns on unknown MCALL_* ones
  {{- if eq .Values.mode "cronjob" }}
  restartPolicy: {{ .Values.restartPolicy }}
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: dz-mcall
      image: {{ include "dz-mcall.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["-c", "/etc/dz-mcall/mcall.yaml"]
      env:
        - name: LEADER_ELECTION
          value: "true"
        {{- include "dz-mcall.baseEnv" . | nindent 8 }}
        {{- if eq .Values.mode "cronjob" }}
        # One-shot round: the round id is this Job's name, and only this Job's pods of this
        # release work on it ($(MCALL_TASKS_ROUND) is expanded by the kubelet).
        - name: MCALL_TASKS_ROUND
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['batch.kubernetes.io/job-name']
        - name: MCALL_TASKS_WORKER_SELECTOR
          value: {{ printf "%s,batch.kubernetes.io/job-name=$(MCALL_TASKS_ROUND)" (include "dz-mcall.selectorString" .) | quote }}
        {{- else }}
        - name: MCALL_TASKS_WORKER_SELECTOR
          value: {{ include "dz-mcall.selectorString" . | quote }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: metrics
          containerPort: {{ .Values.metrics.port }}
          protocol: TCP
      {{- if .Values.livenessProbe.enabled }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: metrics
        {{- toYaml (omit .Values.livenessProbe "enabled") | nindent 8 }}
      {{- end }}
      {{- if .Values.readinessProbe.enabled }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: metrics
        {{- toYaml (omit .Values.readinessProbe "enabled") | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml .Values.containerSecurityContext | nindent 8 }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/dz-mcall
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    {{- include "dz-mcall.configVolume" . | nindent 4 }}
    - name: tmp
      emptyDir:
        {{- with .Values.tmpSizeLimit }}
        sizeLimit: {{ . }}
        {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
