#!/bin/sh
# Remove NAT-lab leftovers: network namespaces named gml<pid>-* whose creating
# process is gone (pass --all to remove every gml<digits>-* namespace), after
# killing (by pid) the processes still running inside them.
set -u
all=0
[ "${1:-}" = "--all" ] && all=1
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^gml[0-9]+-' || true); do
  pid=$(printf '%s\n' "$ns" | sed -E 's/^gml([0-9]+)-.*/\1/')
  if [ "$all" -eq 0 ] && kill -0 "$pid" 2>/dev/null; then
    echo "keep $ns (run $pid alive)"
    continue
  fi
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$ns" && echo "deleted $ns"
done
