#!/usr/bin/env bash
# Runs an MPI job of 2 ranks in two network namespaces joined by a veth
# pair, so that every byte between the ranks crosses a network interface
# (Open MPI over TCP on the pair's addresses only; no shared memory, no
# loopback): the multi-machine path of mrg's data parallelism on one host.
#
#   tools/mpi-netns.sh COMMAND [ARGS...]     e.g.
#   tools/mpi-netns.sh build/mrg train --data ph --preset micro --lm lm \
#       --batch 4 --epochs 5 --no-eval --device cpu --out run-net
#
# Needs root (CAP_NET_ADMIN: `ip netns`, `ip link add ... type veth`) and
# unshare(1). Namespace A (10.77.N.1) runs mpirun and rank 0; namespace B
# (10.77.N.2) is a "remote host" that mpirun reaches through an rsh agent
# that enters B (`ip netns exec`, with its own hostname), where ssh would
# reach another machine. Everything it creates is removed on exit.
# Environment: MRG_NETNS_SUBNET (default 77: addresses 10.77.<pid % 250>.x),
# OMP_NUM_THREADS (default 1 per rank); ASAN_OPTIONS is passed on when set.
set -euo pipefail
(($# >= 1)) || { sed -n '2,18p' "$0" >&2; exit 2; }
id=$$
a=mrgA$id b=mrgB$id va=mrgva$id vb=mrgvb$id
net=10.${MRG_NETNS_SUBNET:-77}.$((id % 250))
tmp=$(mktemp -d)
cleanup() {
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$a"
ip netns add "$b"
ip link add "$va" type veth peer name "$vb"
ip link set "$va" netns "$a"
ip link set "$vb" netns "$b"
ip -n "$a" addr add "$net.1/24" dev "$va"
ip -n "$b" addr add "$net.2/24" dev "$vb"
for ns in "$a" "$b"; do
  ip -n "$ns" link set lo up
done
ip -n "$a" link set "$va" up
ip -n "$b" link set "$vb" up

# The rsh agent: mpirun calls it as `agent HOST COMMAND...` (as it would
# call ssh); HOST B's address enters namespace B, under its own hostname
# so that Open MPI sees two machines.
cat >"$tmp/agent" <<AGENT
#!/usr/bin/env bash
host=\$1; shift
[[ \$host == $net.2 ]] || { echo "mpi-netns agent: unknown host \$host" >&2; exit 1; }
exec ip netns exec $b unshare --uts sh -c 'hostname $b && exec sh -c "\$0"' "\$*"
AGENT
chmod +x "$tmp/agent"

cd "$PWD"
exec_a=(ip netns exec "$a" unshare --uts sh -c "hostname $a && exec \"\$0\" \"\$@\"")
"${exec_a[@]}" mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 --host "$net.1,$net.2" \
  --mca plm_rsh_agent "$tmp/agent" --mca btl self,tcp \
  --mca btl_tcp_if_include "$net.0/24" --mca oob_tcp_if_include "$net.0/24" \
  -x OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" ${ASAN_OPTIONS:+-x ASAN_OPTIONS} "$@"
