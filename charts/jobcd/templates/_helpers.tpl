{{/*
Names and labels.
*/}}
{{- define "jobcd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jobcd.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "jobcd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jobcd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "jobcd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "jobcd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "jobcd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "jobcd.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: name the existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The namespaces jobcd manages, as a JSON list: the `namespaces` value, or
the release namespace. Both the configuration (target.namespaces) and the
RBAC (a Role per namespace) read this one list.
*/}}
{{- define "jobcd.namespaces" -}}
{{- $namespaces := .Values.namespaces | default (list .Release.Namespace) | uniq -}}
{{- toJson $namespaces -}}
{{- end -}}

{{/*
The Lease leader election uses, in the release namespace.
*/}}
{{- define "jobcd.leaseName" -}}
{{- .Values.leaderElection.leaseName | default (include "jobcd.fullname" .) -}}
{{- end -}}

{{/*
The run-once ledger ConfigMaps, one per source, as a JSON list: the names
jobcd gives them (src/target/kube/ledger.rs: "jobcd-ledger-" and the source
name, which the values schema already restricts to a valid name). The
Role's resourceNames read this list.
*/}}
{{- define "jobcd.ledgerNames" -}}
{{- $names := list -}}
{{- range .Values.sources -}}
{{- $names = append $names (printf "jobcd-ledger-%s" .name) -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/*
Where mounted Secrets appear in the container.
*/}}
{{- define "jobcd.secretsDir" -}}/var/run/secrets/jobcd{{- end -}}

{{/*
The Secret files of one source: a JSON list of {field, secret, key, path}
for each *SecretRef it sets. `field` is the configuration key that names
the file (verify.keyFiles is a list, set apart by jobcd.config). Used by the configuration (the path) and the Deployment (the
projected volume), so the two always agree.
*/}}
{{- define "jobcd.sourceSecretFiles" -}}
{{- $source := . -}}
{{- $files := list -}}
{{- $kinds := list
  (dict "ref" "passwordSecretRef" "field" "passwordFile" "key" "password" "file" "password")
  (dict "ref" "sshKeySecretRef" "field" "sshKeyFile" "key" "ssh-privatekey" "file" "ssh-key")
  (dict "ref" "sshPassphraseSecretRef" "field" "sshPassphraseFile" "key" "passphrase" "file" "ssh-passphrase")
  (dict "ref" "knownHostsSecretRef" "field" "knownHostsFile" "key" "known_hosts" "file" "known_hosts")
  (dict "ref" "webhookSecretRef" "field" "webhookSecretFile" "key" "webhook-secret" "file" "webhook-secret")
-}}
{{- range $kinds -}}
{{- $ref := get $source .ref -}}
{{- if $ref -}}
{{- $secret := required (printf "sources[%s].%s.name: name the Secret" $source.name .ref) $ref.name -}}
{{- $files = append $files (dict
    "field" .field
    "secret" $secret
    "key" ($ref.key | default .key)
    "path" (printf "sources/%s/%s" $source.name .file)) -}}
{{- end -}}
{{- end -}}
{{- with $source.verify -}}
{{- $ref := required (printf "sources[%s].verify.keysSecretRef: name the Secret holding the trusted keys" $source.name) .keysSecretRef -}}
{{- $files = append $files (dict
    "field" "verify.keyFiles"
    "secret" (required (printf "sources[%s].verify.keysSecretRef.name: name the Secret" $source.name) $ref.name)
    "key" ($ref.key | default "trusted-keys")
    "path" (printf "sources/%s/trusted-keys" $source.name)) -}}
{{- end -}}
{{- toJson $files -}}
{{- end -}}

{{/*
The Secret files of one notification receiver, as for a source: its URL
(urlSecretRef -> urlFile) and its key (secretRef -> secretFile).
*/}}
{{- define "jobcd.receiverSecretFiles" -}}
{{- $receiver := . -}}
{{- $files := list -}}
{{- $kinds := list
  (dict "ref" "urlSecretRef" "field" "urlFile" "key" "url" "file" "url")
  (dict "ref" "secretRef" "field" "secretFile" "key" "secret" "file" "secret")
-}}
{{- range $kinds -}}
{{- $ref := get $receiver .ref -}}
{{- if $ref -}}
{{- $files = append $files (dict
    "field" .field
    "secret" $ref.name
    "key" ($ref.key | default .key)
    "path" (printf "notifications/%s/%s" $receiver.name .file)) -}}
{{- end -}}
{{- end -}}
{{- toJson $files -}}
{{- end -}}

{{/*
Every Secret file the pod mounts: the sources', the notification
receivers' and the forge token.
*/}}
{{- define "jobcd.secretFiles" -}}
{{- $files := list -}}
{{- range .Values.sources -}}
{{- $files = concat $files (include "jobcd.sourceSecretFiles" . | fromJsonArray) -}}
{{- end -}}
{{- range .Values.notifications -}}
{{- $files = concat $files (include "jobcd.receiverSecretFiles" . | fromJsonArray) -}}
{{- end -}}
{{- $forge := .Values.reporters.forge -}}
{{- if $forge.enabled -}}
{{- $secret := required "reporters.forge.tokenSecretRef.name: name the Secret holding the forge token" $forge.tokenSecretRef.name -}}
{{- $files = append $files (dict "field" "tokenFile" "secret" $secret "key" ($forge.tokenSecretRef.key | default "token") "path" "forge/token") -}}
{{- end -}}
{{- $files = concat $files (include "jobcd.dashboardSecretFiles" . | fromJsonArray) -}}
{{- toJson $files -}}
{{- end -}}

{{/*
The dashboard's credentials, as Secret files: a bearer token and a
basic-auth password (with its user).
*/}}
{{- define "jobcd.dashboardSecretFiles" -}}
{{- $files := list -}}
{{- $d := .Values.dashboard -}}
{{- if and $d.enabled $d.tokenSecretRef.name -}}
{{- $files = append $files (dict "field" "tokenFile" "secret" $d.tokenSecretRef.name "key" ($d.tokenSecretRef.key | default "token") "path" "dashboard/token") -}}
{{- end -}}
{{- if and $d.enabled (or $d.username $d.passwordSecretRef.name) -}}
{{- if not (and $d.username $d.passwordSecretRef.name) -}}
{{- fail "dashboard: basic auth needs both username and passwordSecretRef.name" -}}
{{- end -}}
{{- $files = append $files (dict "field" "passwordFile" "secret" $d.passwordSecretRef.name "key" ($d.passwordSecretRef.key | default "password") "path" "dashboard/password") -}}
{{- end -}}
{{- toJson $files -}}
{{- end -}}

{{/*
jobcd.yaml, rendered from the values (see values.yaml). The keys jobcd
reads are listed in jobcd's README (`jobcd serve`).
*/}}
{{- define "jobcd.config" -}}
{{- $dir := include "jobcd.secretsDir" . -}}
{{- $sources := list -}}
{{- range .Values.sources -}}
{{- $source := dict "name" (required "sources[].name is required" .name) "repo" (required (printf "sources[%s].repo is required" .name) .repo) -}}
{{- if .ref }}{{ $_ := set $source "ref" .ref }}{{ end -}}
{{- if .path }}{{ $_ := set $source "path" .path }}{{ end -}}
{{- if .interval }}{{ $_ := set $source "interval" .interval }}{{ end -}}
{{- if .username }}{{ $_ := set $source "username" .username }}{{ end -}}
{{- range include "jobcd.sourceSecretFiles" . | fromJsonArray -}}
{{- if eq .field "verify.keyFiles" -}}
{{- $_ := set $source "verify" (dict "keyFiles" (list (printf "%s/%s" $dir .path))) -}}
{{- else -}}
{{- $_ := set $source .field (printf "%s/%s" $dir .path) -}}
{{- end -}}
{{- end -}}
{{- if .verify }}{{ $_ := set $source.verify "mode" (.verify.mode | default "head") }}{{ end -}}
{{- if .namespaces }}{{ $_ := set $source "namespaces" .namespaces }}{{ end -}}
{{- with .serviceAccount }}{{ $_ := set $source "serviceAccount" (dict "name" (required "sources[].serviceAccount.name is required" .name) "namespace" (required "sources[].serviceAccount.namespace is required" .namespace)) }}{{ end -}}
{{- $sources = append $sources $source -}}
{{- end -}}
{{- $reporters := dict "notes" .Values.reporters.notes "pushNotes" .Values.reporters.pushNotes -}}
{{- $forge := .Values.reporters.forge -}}
{{- if $forge.enabled -}}
{{- $f := dict "kind" $forge.kind "tokenFile" (printf "%s/forge/token" $dir) -}}
{{- if $forge.url }}{{ $_ := set $f "url" $forge.url }}{{ end -}}
{{- if $forge.project }}{{ $_ := set $f "project" $forge.project }}{{ end -}}
{{- $_ := set $reporters "forge" $f -}}
{{- end -}}
{{- $receivers := list -}}
{{- range .Values.notifications -}}
{{- $r := dict "name" .name "kind" .kind -}}
{{- if .url }}{{ $_ := set $r "url" .url }}{{ end -}}
{{- if .events }}{{ $_ := set $r "events" .events }}{{ end -}}
{{- if .resend }}{{ $_ := set $r "resend" .resend }}{{ end -}}
{{- range include "jobcd.receiverSecretFiles" . | fromJsonArray -}}
{{- $_ := set $r .field (printf "%s/%s" $dir .path) -}}
{{- end -}}
{{- $receivers = append $receivers $r -}}
{{- end -}}
{{- $config := dict
  "apiVersion" "jobcd.dev/v1alpha1"
  "kind" "Config"
  "listen" "0.0.0.0:8080"
  "stateDir" "/var/lib/jobcd"
  "target" (dict
    "kind" "kube"
    "namespaces" (include "jobcd.namespaces" . | fromJsonArray)
    "ledgerNamespace" .Release.Namespace)
  "prune" (dict
    "allowEmpty" .Values.prune.allowEmpty
    "maxPercent" (int .Values.prune.maxPercent)
    "force" .Values.prune.force)
  "concurrency" (int .Values.concurrency)
  "correctDrift" .Values.correctDrift
  "reporters" $reporters
  "leaderElection" (dict
    "enabled" .Values.leaderElection.enabled
    "leaseName" (include "jobcd.leaseName" .)
    "leaseDuration" .Values.leaderElection.leaseDuration
    "shards" (int .Values.leaderElection.shards))
  "health" (dict
    "interval" .Values.health.interval
    "grace" .Values.health.grace
    "stalePeriods" (int .Values.health.stalePeriods)
    "suspendedMaxAge" .Values.health.suspendedMaxAge)
  "sources" $sources
-}}
{{- if $receivers }}{{ $_ := set $config "notifications" $receivers }}{{ end -}}
{{- $dashboard := dict "enabled" .Values.dashboard.enabled -}}
{{- if .Values.dashboard.enabled -}}
{{- if .Values.dashboard.username }}{{ $_ := set $dashboard "username" .Values.dashboard.username }}{{ end -}}
{{- range include "jobcd.dashboardSecretFiles" . | fromJsonArray -}}
{{- $_ := set $dashboard .field (printf "%s/%s" $dir .path) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $config "dashboard" $dashboard -}}
{{- $order := list "apiVersion" "kind" "listen" "stateDir" "target" "prune" "concurrency" "correctDrift" "reporters" "leaderElection" "health" "notifications" "dashboard" "sources" -}}
{{- range $order }}
{{- if hasKey $config . }}
{{ toYaml (dict . (get $config .)) }}
{{- end }}
{{- end -}}
{{- range $key, $value := .Values.extraConfig -}}
{{- if hasKey $config $key -}}
{{- fail (printf "extraConfig.%s: the chart renders %s from its own values (so that the RBAC and the mounted Secrets match the configuration); set it there" $key $key) -}}
{{- end }}
{{ toYaml (dict $key $value) }}
{{- end -}}
{{- end -}}

{{/*
Checks of value combinations the schema cannot express.
*/}}
{{- define "jobcd.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) -}}
{{- fail "replicaCount is above 1 but leaderElection.enabled is false: every replica would apply; turn leader election on or run one replica" -}}
{{- end -}}
{{- $names := list -}}
{{- range .Values.sources -}}
{{- if has .name $names -}}
{{- fail (printf "sources: %q is named twice; each source needs its own name (it names the source's ledger and Secret files)" .name) -}}
{{- end -}}
{{- $names = append $names .name -}}
{{- end -}}
{{- $receivers := list -}}
{{- range .Values.notifications -}}
{{- if has .name $receivers -}}
{{- fail (printf "notifications: %q is named twice; each receiver needs its own name" .name) -}}
{{- end -}}
{{- $receivers = append $receivers .name -}}
{{- if and (eq .kind "slack") (not .urlSecretRef) -}}
{{- fail (printf "notifications[%s]: a Slack webhook URL is a secret: give urlSecretRef, not url" .name) -}}
{{- end -}}
{{- if and (not .url) (not .urlSecretRef) -}}
{{- fail (printf "notifications[%s]: give url or urlSecretRef" .name) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.persistence.enabled (gt (int .Values.replicaCount) 1) -}}
{{- fail "persistence.enabled: all replicas of the Deployment would share one claim (and one state directory); set replicaCount to 1" -}}
{{- end -}}
{{- end -}}
