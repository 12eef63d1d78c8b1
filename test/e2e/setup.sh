#!/usr/bin/env bash
# e2e prerequisites (idempotent; fast when already installed): Debian chromium, Kerberos headers for
# VS Code's `kerberos` addon, ripgrep; then code-server + playwright-core into test/e2e/host.
# Details and pitfalls: ../shared/docs/E2E.md.
set -euo pipefail
cd "$(dirname "$0")/host"

if ! command -v chromium >/dev/null || ! command -v rg >/dev/null || ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
	SUDO=""
	if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium libkrb5-dev ripgrep
fi

if [ -f node_modules/code-server/out/node/entry.js ] && [ -f node_modules/code-server/lib/vscode/node_modules/node-pty/build/Release/pty.node ] && [ -d node_modules/playwright-core ]; then
	echo "e2e host already installed"
	exit 0
fi

# @vscode/ripgrep (pinned by code-server) downloads rg from GitHub unless its cache holds it: seed it from Debian's rg.
export TMPDIR="${TMPDIR:-/tmp}/radreview-e2e-setup"
mkdir -p "$TMPDIR/vscode-ripgrep-cache-1.15.11"
tar czf "$TMPDIR/vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$(dirname "$(command -v rg)")" rg
# As root code-server's postinstall needs unsafe-perm; node-pty's postinstall runs `npx node-gyp` (global npmrc has yes=false).
export npm_config_unsafe_perm=true npm_config_yes=true
log="$TMPDIR/npm-ci.log"
if ! npm ci --no-audit --no-fund >"$log" 2>&1; then
	tail -50 "$log"
	echo "e2e setup: npm ci failed (log: $log)" >&2
	exit 1
fi
# A failed postinstall makes npm drop code-server silently: check the result, not npm's exit code.
if [ ! -f node_modules/code-server/out/node/entry.js ] || [ ! -f node_modules/code-server/lib/vscode/node_modules/node-pty/build/Release/pty.node ]; then
	tail -80 "$log"
	echo "e2e setup: code-server is incomplete after npm ci (log: $log)" >&2
	exit 1
fi
echo "e2e host installed"
