#!/usr/bin/env bash
# The main job on the embedded default: installs what is needed, builds, then inits a repository under a temp
# folder, backs up a generated few-hundred-MB sample through --from-command, lists it, restores it, compares
# digests and prints a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
STRATA=$PWD/build/strata
GEN=$PWD/build/bench/strata_gen_corpus
SIZE=${QUICKSTART_BYTES:-314572800}

work=$(mktemp -d /tmp/strata-quickstart.XXXXXX)
trap 'rm -rf "$work"' EXIT
export STRATA_REPO="$work/repo"
# A throwaway passphrase for the demo; real use: STRATA_PASSPHRASE from a secret store, or --passphrase-file.
export STRATA_PASSPHRASE="quickstart-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"

echo "== strata quickstart in $work"
"$STRATA" repo init
echo "== backup: $((SIZE / 1048576)) MiB of generated table rows + random bytes via --from-command"
"$STRATA" backup --source sample --label demo=quickstart --from-command "$GEN mixed $SIZE 7"
echo "== list"
"$STRATA" list
id=$("$STRATA" list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
echo "== restore $id"
"$STRATA" restore "$id" --to "$work/restored"
echo "== check"
"$STRATA" check --read-data
want=$("$GEN" mixed "$SIZE" 7 | sha256sum | cut -d' ' -f1)
got=$(sha256sum "$work/restored" | cut -d' ' -f1)
stored=$(du -sb "$STRATA_REPO/data" | cut -f1)
echo "== summary"
echo "source sha256:   $want"
echo "restored sha256: $got"
echo "plain bytes: $SIZE, stored bytes: $stored"
if [ "$want" != "$got" ]; then
  echo "quickstart FAILED: restored data differs from the source" >&2
  exit 1
fi
echo "quickstart OK: restored data is byte-for-byte identical"
