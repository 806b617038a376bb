# Sourced by scripts/up, scripts/test and bin/keyward: makes sure a supported
# Node.js (>= 22.18, for TypeScript type stripping) is first on PATH. Where the
# system Node is older, the official binaries are taken from the npm
# registry's node-<os>-<arch> package into a cache outside the repository.
# With KEYWARD_NODE_QUIET=1 nothing is printed and npm packages are not checked.

keyward_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=18)?0:1)' 2>/dev/null
}

keyward_node_say() { [ "${KEYWARD_NODE_QUIET:-}" = 1 ] || echo "» $*" >&2; }

keyward_ensure_node() {
  local version="${KEYWARD_NODE_VERSION:-24.9.0}"
  local cache="${KEYWARD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/keyward}/node"
  local dir="$cache/v$version"
  if ! keyward_node_ok; then
    if [ ! -x "$dir/bin/node" ]; then
      local os arch
      case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) echo "keyward: unsupported OS $(uname -s); install Node.js >= 22.18" >&2; return 1 ;; esac
      case "$(uname -m)" in x86_64|amd64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) echo "keyward: unsupported CPU $(uname -m); install Node.js >= 22.18" >&2; return 1 ;; esac
      command -v npm >/dev/null 2>&1 || { echo "keyward: neither Node.js >= 22.18 nor npm is installed; install Node.js 24" >&2; return 1; }
      keyward_node_say "system Node is $(node --version 2>/dev/null || echo missing); fetching Node $version (node-$os-$arch from the npm registry, once)…"
      mkdir -p "$cache"
      local tmp
      tmp="$(mktemp -d "$cache/.dl-XXXXXX")"
      if ! (cd "$tmp" && npm pack --silent "node-$os-$arch@$version" >/dev/null 2>"$tmp/err" && tar xzf node-"$os-$arch"-"$version".tgz); then
        echo "keyward: could not fetch node-$os-$arch@$version: $(tail -3 "$tmp/err" 2>/dev/null)" >&2
        rm -rf "$tmp"; return 1
      fi
      if ! "$tmp/package/bin/node" --version >/dev/null 2>&1; then
        echo "keyward: the fetched Node $version does not run on this machine" >&2; rm -rf "$tmp"; return 1
      fi
      rm -rf "$dir"; mv "$tmp/package" "$dir"; rm -rf "$tmp"
    fi
    export PATH="$dir/bin:$PATH"
  fi
  keyward_node_say "using Node $(node --version) ($(command -v node))"
}

keyward_ensure_packages() {
  # Install npm packages when missing or older than the lockfile.
  if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    keyward_node_say "installing npm packages (npm ci)…"
    npm ci --no-audit --no-fund --loglevel=error >&2
  fi
}

keyward_ensure_node || exit 1
[ "${KEYWARD_NODE_QUIET:-}" = 1 ] || keyward_ensure_packages
