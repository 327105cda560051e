#!/usr/bin/env bash
# Builds the local Kubernetes control plane's binaries from the Go module proxy, once per machine:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok, kube-state-metrics and
# Chaos Mesh's controller manager (versions pinned below; shared/reference/kubernetes-local/README.md has
# why these). Binaries are cached outside the work tree ($FAULTLINE_KUBE_BIN, default
# ~/.cache/faultline/kube/<stamp>/bin) so every clone on the machine reuses them; a component already
# built is skipped, so a re-run costs about a second. The Go build cache is private and deleted afterwards
# (~6 GB); the module cache (~3.4 GB, $GOMODCACHE) stays, so rebuilding a deleted binary downloads nothing.
set -euo pipefail
log() { printf '\033[36m[kube-build]\033[0m %s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
# Go's own chatter ("go: downloading …", hundreds of lines on a fresh machine) is dropped; errors still show and
# still fail the build (pipefail: the pipeline's status is go's).
gox() { "$@" 2>&1 | { grep -v -e '^go: downloading ' -e '^go: finding module ' -e '^go: found ' >&2 || true; }; }

ETCD_VERSION=v3.6.17
K8S_VERSION=v1.34.4
KWOK_VERSION=v0.8.0
KSM_VERSION=v2.20.0
# The proxy refuses the v2.8.x tag commits; this master pseudo-version builds (see the reference README).
CHAOS_MESH_VERSION=v0.9.1-0.20260902003049-47411975a8cb
CHAOS_MESH_API_VERSION=v0.0.0-20260902003049-47411975a8cb

STAMP="etcd-${ETCD_VERSION}_k8s-${K8S_VERSION}_kwok-${KWOK_VERSION}_ksm-${KSM_VERSION}_cm-${CHAOS_MESH_VERSION##*-}"
BIN=${FAULTLINE_KUBE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/faultline/kube/$STAMP/bin}
mkdir -p "$BIN"
# chaos-mesh-crd.yaml: the CRD bundle of the same Chaos Mesh module (manifests/crd.yaml), so CRDs and controller match.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kube-state-metrics chaos-controller-manager
  chaos-mesh-crd.yaml)
have() { if [[ $1 == *.yaml ]]; then [ -s "$BIN/$1" ]; else [ -x "$BIN/$1" ]; fi; }
missing=()
for c in "${COMPONENTS[@]}"; do have "$c" || missing+=("$c"); done
if [ "${1:-}" = "--print-bin" ]; then echo "$BIN"; exit 0; fi
if ((${#missing[@]} == 0)); then echo "$BIN"; exit 0; fi

command -v go >/dev/null || { echo "kube-build: Go >= 1.26 is needed to build the local control plane (missing: ${missing[*]})" >&2; exit 1; }
gover=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n1.26\n' "$gover" | sort -V | head -1)" != 1.26 ]; then
  echo "kube-build: Go >= 1.26 is needed (kwok $KWOK_VERSION requires it); found go$gover" >&2; exit 1
fi
# One build at a time per bin dir (two clones running setup at once): the second waits, then finds the binaries.
exec 9>"$BIN/.build.lock"
if ! flock -n 9; then log "another build of $BIN is running; waiting for it"; flock 9; fi
missing=()
for c in "${COMPONENTS[@]}"; do have "$c" || missing+=("$c"); done
if ((${#missing[@]} == 0)); then echo "$BIN"; exit 0; fi
log "building ${missing[*]} into $BIN (once per machine; ~16 min cold on 2 cores)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/faultline-kube-build.XXXXXX")
export GOCACHE="$WORK/gocache" GOFLAGS="-trimpath" CGO_ENABLED=0 GOTOOLCHAIN=local
trap 'rm -rf "$WORK"' EXIT
t0=$(date +%s)
need() { [[ " ${missing[*]} " == *" $1 "* ]]; }
step() { log "$1 ($(( $(date +%s) - t0 )) s so far)"; }
scratch() { # scratch module in $WORK/$1
  mkdir -p "$WORK/$1"; cd "$WORK/$1"
  printf 'module faultline.local/%s\n\ngo 1.24\n' "$1" > go.mod
}

if need etcd; then
  step "etcd $ETCD_VERSION: building (~1.5 min cold)"
  scratch etcd
  printf 'package tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
  go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  gox go mod tidy
  gox go build -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$BIN/etcd.tmp" "$BIN/etcd"
fi

K8S_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
k8s_missing=()
for c in "${K8S_BINS[@]}"; do need "$c" && k8s_missing+=("$c"); done
if ((${#k8s_missing[@]})); then
  step "Kubernetes $K8S_VERSION: ${k8s_missing[*]} (~5 min cold)"
  scratch k8s
  # k8s.io/kubernetes replaces its staging modules with local paths; point each at its published version.
  modfile=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" 2>/dev/null | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$modfile" ] || { go mod download "k8s.io/kubernetes@$K8S_VERSION"; echo "kube-build: cannot download k8s.io/kubernetes $K8S_VERSION" >&2; exit 1; }
  staging=$(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$modfile")
  [ -n "$staging" ] || { echo "kube-build: no staging replaces found in $modfile" >&2; exit 1; }
  go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
  minor=v0.${K8S_VERSION#v1.}  # v1.34.4 -> v0.34.4
  for m in $staging; do go mod edit -replace="$m=$m@$minor"; done
  printf 'package tools\n\nimport (\n' > tools.go
  for c in "${k8s_missing[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c" >> tools.go; done
  printf ')\n' >> tools.go
  gox go mod tidy
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  for c in "${k8s_missing[@]}"; do
    step "  $c"
    gox go build -ldflags "$ld" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c"
    mv "$BIN/$c.tmp" "$BIN/$c"
  done
fi

if need kwok; then
  step "kwok $KWOK_VERSION (~1.5 min cold)"
  GOBIN="$WORK/gobin" gox go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$WORK/gobin/kwok" "$BIN/kwok"
fi

if need kube-state-metrics; then
  step "kube-state-metrics $KSM_VERSION (~1.5 min cold)"
  GOBIN="$WORK/gobin" gox go install -ldflags "-s -w" "k8s.io/kube-state-metrics/v2@$KSM_VERSION"
  mv "$WORK/gobin/v2" "$BIN/kube-state-metrics" 2>/dev/null || mv "$WORK/gobin/kube-state-metrics" "$BIN/kube-state-metrics"
fi

if need chaos-controller-manager; then
  step "Chaos Mesh controller manager $CHAOS_MESH_VERSION (~4 min cold)"
  scratch chaosmesh
  modfile=$(go mod download -json "github.com/chaos-mesh/chaos-mesh@$CHAOS_MESH_VERSION" 2>/dev/null | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$modfile" ] || { go mod download "github.com/chaos-mesh/chaos-mesh@$CHAOS_MESH_VERSION"; echo "kube-build: cannot download Chaos Mesh $CHAOS_MESH_VERSION" >&2; exit 1; }
  go mod edit -require="github.com/chaos-mesh/chaos-mesh@$CHAOS_MESH_VERSION"
  # upstream's replace block, minus its local ./api path, which becomes the published api module
  awk '/^replace \($/{f=1;next} f&&/^\)/{f=0} f' "$modfile" | grep '=>' | grep -v '=> \./' | while read -r l; do
    from=$(echo "$l" | awk '{print $1 ($2!="=>" ? "@" $2 : "")}'); to=$(echo "$l" | sed 's/.*=> *//' | awk '{print $1 ($2 ? "@" $2 : "")}')
    go mod edit -replace="$from=$to"
  done
  grep -E '^replace [^(]' "$modfile" | grep -v '=> \./' | sed 's/^replace //' | while read -r l; do
    from=$(echo "$l" | awk '{print $1 ($2!="=>" ? "@" $2 : "")}'); to=$(echo "$l" | sed 's/.*=> *//' | awk '{print $1 ($2 ? "@" $2 : "")}')
    go mod edit -replace="$from=$to"
  done
  go mod edit -replace="github.com/chaos-mesh/chaos-mesh/api=github.com/chaos-mesh/chaos-mesh/api@$CHAOS_MESH_API_VERSION"
  printf 'package tools\n\nimport _ "github.com/chaos-mesh/chaos-mesh/cmd/chaos-controller-manager"\n' > tools.go
  gox go mod tidy
  gox go build -ldflags "-s -w" -o "$BIN/chaos-controller-manager.tmp" github.com/chaos-mesh/chaos-mesh/cmd/chaos-controller-manager
  mv "$BIN/chaos-controller-manager.tmp" "$BIN/chaos-controller-manager"
fi

if need chaos-mesh-crd.yaml; then
  step "Chaos Mesh CRDs (manifests/crd.yaml of $CHAOS_MESH_VERSION)"
  dir=$(go mod download -json "github.com/chaos-mesh/chaos-mesh@$CHAOS_MESH_VERSION" 2>/dev/null | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -s "$dir/manifests/crd.yaml" ] || { echo "kube-build: no manifests/crd.yaml in the Chaos Mesh module ($dir)" >&2; exit 1; }
  install -m 0644 "$dir/manifests/crd.yaml" "$BIN/chaos-mesh-crd.yaml"
fi

step "done: binaries in $BIN"
echo "$BIN"
