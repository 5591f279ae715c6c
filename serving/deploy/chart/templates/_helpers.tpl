{{/* The release's full name, at most 63 characters. */}}
{{- define "tractor-serve.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tractor-serve.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tractor-serve.labels" -}}
{{ include "tractor-serve.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tractor
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "tractor-serve.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tractor-serve.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* tractor-serve's TOML settings from .Values.server (strings quoted, numbers bare). */}}
{{- define "tractor-serve.config" -}}
{{- range $k, $v := .Values.server }}
{{ $k }} = {{ if kindIs "string" $v }}{{ $v | quote }}{{ else }}{{ $v }}{{ end }}
{{- end }}
shutdown_delay = "0s"
{{- end -}}

{{/* Seconds of the drain timeout: "25s" -> 25 (only whole seconds or minutes). */}}
{{- define "tractor-serve.drainSeconds" -}}
{{- $d := toString (default "25s" .Values.server.drain_timeout) -}}
{{- if hasSuffix "ms" $d -}}1
{{- else if hasSuffix "s" $d -}}{{ trimSuffix "s" $d | int }}
{{- else if hasSuffix "m" $d -}}{{ mul (trimSuffix "m" $d | int) 60 }}
{{- else -}}{{ fail (printf "server.drain_timeout %q: use whole seconds (25s) or minutes (1m)" $d) }}
{{- end -}}
{{- end -}}
