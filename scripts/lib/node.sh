# shellcheck shell=bash
# Sourced by scripts/up and scripts/test (and, with KEYWARD_NODE_QUIET=1, by
# bin/keyward): puts a Node.js that runs TypeScript directly (>= 22.18, or
# 23.6+) first on PATH, then installs the npm packages when needed.
#
# Where the Node on PATH is older or missing, the official binaries are taken
# from the npm registry's node-<os>-<arch> package (npm verifies its integrity)
# into ${KEYWARD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/keyward}/node/v<version>/,
# outside the repository, once. KEYWARD_NODE_VERSION picks that version
# (default 24.9.0). npm itself stays the system's npm.
#
# KEYWARD_NODE_QUIET=1 (bin/keyward): print only what a download or an
# install says, each in one line on stderr.

keyward_node_say() { [ "${KEYWARD_NODE_QUIET:-}" = 1 ] || echo "» $*" >&2; }

# True when version $1 (v24.9.0 or 24.9.0) strips TypeScript types by default.
keyward_version_ok() {
  local v="${1#v}" major minor
  major="${v%%.*}"
  minor="${v#*.}"
  minor="${minor%%.*}"
  case "$major:$minor" in *[!0-9:]* | :* | *:) return 1 ;; esac
  [ "$major" -ge 24 ] || { [ "$major" -eq 23 ] && [ "$minor" -ge 6 ]; } || { [ "$major" -eq 22 ] && [ "$minor" -ge 18 ]; }
}

# True when the node binary $1 (default: node on PATH) runs and is recent enough.
keyward_node_ok() {
  local v
  v="$("${1:-node}" --version 2>/dev/null)" || return 1
  keyward_version_ok "$v"
}

keyward_fetch_node() { # $1 version, $2 target directory
  local version="$1" dir="$2" os arch tmp tgz
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) echo "keyward: no Node.js >= 22.18 found and no prebuilt one for $(uname -s); install Node.js 24" >&2; return 1 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "keyward: no Node.js >= 22.18 found and no prebuilt one for $(uname -m); install Node.js 24" >&2; return 1 ;;
  esac
  command -v npm >/dev/null 2>&1 || {
    echo "keyward: needs Node.js >= 22.18, or npm to fetch it; install Node.js 24" >&2
    return 1
  }
  echo "» the Node on PATH is $(node --version 2>/dev/null || echo 'missing');" \
    "fetching Node $version (node-$os-$arch from the npm registry, about 30 MB, once)…" >&2
  mkdir -p "$(dirname "$dir")" || return 1
  # Leftovers of interrupted downloads.
  find "$(dirname "$dir")" -maxdepth 1 -name '.dl-*' -mmin +60 -exec rm -rf {} + 2>/dev/null || true
  tmp="$(mktemp -d "$(dirname "$dir")/.dl-XXXXXX")" || return 1
  if ! tgz="$(cd "$tmp" && npm pack --loglevel=error "node-$os-$arch@$version" 2>"$tmp/npm.err" | tail -n 1)" || [ ! -f "$tmp/$tgz" ]; then
    echo "keyward: could not fetch node-$os-$arch@$version from the npm registry" \
      "(check the network or KEYWARD_NODE_VERSION): $(grep -m 1 . "$tmp/npm.err" 2>/dev/null)" >&2
    rm -rf "$tmp"
    return 1
  fi
  if ! tar xzf "$tmp/$tgz" -C "$tmp" || [ "$("$tmp/package/bin/node" --version 2>/dev/null)" != "v$version" ]; then
    echo "keyward: the fetched Node $version does not run on this machine; install Node.js 24" >&2
    rm -rf "$tmp"
    return 1
  fi
  # Into place in one rename; a concurrent run that got there first wins.
  [ -e "$dir" ] && [ ! -x "$dir/bin/node" ] && rm -rf "$dir"
  if ! mv -T "$tmp/package" "$dir" 2>/dev/null && [ ! -x "$dir/bin/node" ]; then
    mv "$tmp/package" "$dir" || { rm -rf "$tmp"; return 1; } # mv without -T (macOS); $dir does not exist here
  fi
  rm -rf "$tmp"
}

keyward_ensure_node() {
  if keyward_node_ok; then
    keyward_node_say "using Node $(node --version) ($(command -v node))"
    return 0
  fi
  local version="${KEYWARD_NODE_VERSION:-24.9.0}"
  local dir="${KEYWARD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/keyward}/node/v$version"
  if ! keyward_version_ok "$version"; then
    echo "keyward: KEYWARD_NODE_VERSION=$version cannot run TypeScript directly; use 24.9.0, or another version >= 22.18" >&2
    return 1
  fi
  if ! keyward_node_ok "$dir/bin/node"; then
    keyward_fetch_node "$version" "$dir" || return 1
  fi
  export PATH="$dir/bin:$PATH"
  keyward_node_say "using Node $(node --version) ($dir/bin/node)"
}

# npm ci (npm install without a lockfile) when node_modules is missing or older than the lockfile.
keyward_ensure_packages() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)" || return 1
  if [ -f "$root/package-lock.json" ]; then
    if [ ! -f "$root/node_modules/.package-lock.json" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
      echo "» installing npm packages (npm ci, once; about a minute)…" >&2
      (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2) || { echo "keyward: npm ci failed; see above" >&2; return 1; }
    fi
  elif [ ! -d "$root/node_modules" ]; then
    echo "» installing npm packages (npm install, once)…" >&2
    (cd "$root" && npm install --no-audit --no-fund --loglevel=error >&2) || {
      echo "keyward: npm install failed; see above" >&2
      return 1
    }
  fi
}

keyward_ensure_node || return 1 2>/dev/null || exit 1
keyward_ensure_packages || return 1 2>/dev/null || exit 1
