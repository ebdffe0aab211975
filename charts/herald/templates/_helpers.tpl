{{/* The objects' common labels, as config/default sets them. */}}
{{- define "herald.labels" -}}
app.kubernetes.io/name: herald
{{- end -}}
