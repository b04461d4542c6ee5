# Shared settings for the scripts (sourced, not run).
# Builds and tool caches live outside the clone so a fresh clone reuses them.
export VAULT_CACHE="${VAULT_CACHE:-/var/tmp/vault-ci}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$VAULT_CACHE/target}"
export VAULT_VENV="${VAULT_VENV:-$VAULT_CACHE/venv}"
export VAULT_PYTHON="${VAULT_PYTHON:-$VAULT_VENV/bin/python}"
export VAULT_SHARED_DIR="${VAULT_SHARED_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/shared}"
export PATH="$HOME/.cargo/bin:$PATH"
