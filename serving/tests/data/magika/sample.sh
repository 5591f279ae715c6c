#!/usr/bin/env bash
# Roll a deployment back one revision and wait for it.
set -euo pipefail
ns="${1:-default}"
deploy="${2:?usage: $0 NAMESPACE DEPLOYMENT}"
current=$(kubectl -n "$ns" get deploy "$deploy" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')
echo "current revision: $current"
if [ "$current" -le 1 ]; then
  echo "nothing to roll back to" >&2
  exit 1
fi
kubectl -n "$ns" rollout undo "deploy/$deploy"
kubectl -n "$ns" rollout status "deploy/$deploy" --timeout=120s
for pod in $(kubectl -n "$ns" get pods -l "app=$deploy" -o name); do
  kubectl -n "$ns" get "$pod" -o jsonpath='{.metadata.name}{"\t"}{.status.phase}{"\n"}'
done
