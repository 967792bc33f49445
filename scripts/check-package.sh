#!/usr/bin/env bash
# What a user of the published package gets: packs this checkout (npm pack builds dist/), installs the
# tarball with the README's install line into an empty ES-module project, then runs the README's
# complete Node example there, requires the main entry from CommonJS, and imports orthoptim/node.
# Needs the npm registry (for the tfjs packages). Usage: scripts/check-package.sh [WORKDIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
cd "$repo"
tarball="$(npm pack --silent --pack-destination "$work" | tail -1)"
cd "$work"
npm init -y >/dev/null
npm pkg set type=module
# As the README says: keep onnxruntime-node's installer from downloading its CUDA files.
echo "onnxruntime-node-install=skip" > .npmrc
install_line="$(grep -m1 -o 'npm install orthoptim[^`]*' "$repo/README.md")"
packages="${install_line#npm install orthoptim}"
# shellcheck disable=SC2086
npm install --no-audit --no-fund "./$tarball" $packages tsx
node -e "
const s = require('fs').readFileSync('$repo/README.md', 'utf8');
const block = [...s.matchAll(/\`\`\`ts\n([\s\S]*?)\`\`\`/g)].map((m) => m[1]).find((b) => b.includes(\"from 'orthoptim/node'\") && b.includes('model.fit'));
require('fs').writeFileSync('example.mts', block);
"
npx tsx example.mts
test -s my-model/model.json && test -s my-model/weights.bin
node -e "const o = require('orthoptim'); if (typeof o.muon !== 'function') process.exit(1); console.log('require(\"orthoptim\"): ok')"
node --input-type=module -e "const m = await import('orthoptim/node'); if (typeof m.fileSystem !== 'function') process.exit(1); console.log('orthoptim/node: ok')"
echo "package check passed in $work"
