#!/usr/bin/env bash
# pcp demo: build pcp, make a sample tree (nested folders, a few hundred files,
# one ~200 MiB file), send it from one pcp process to another on this machine,
# then check the copy with `pcp verify` and a byte comparison.
#
# As root it runs both peers in a fresh network namespace with multicast on
# loopback, so they find each other with real mDNS (--mdns-only); otherwise the
# receiver dials the sender's loopback address (--direct). PAKE is real either
# way. Exits non-zero on any mismatch.
#
# Usage: cmd/pcp/demo.sh [path/to/pcp]   (default: builds bin/pcp)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-}
if [ -z "$BIN" ]; then
	echo "== building pcp"
	(cd "$ROOT" && go build -trimpath -o bin/pcp ./cmd/pcp)
	BIN=$ROOT/bin/pcp
elif [ ! -x "$BIN" ]; then
	echo "== building pcp"
	(cd "$ROOT" && go build -trimpath -o "$BIN" ./cmd/pcp)
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pcp-demo.XXXXXX")
SENDER_PID=
cleanup() {
	if [ -n "$SENDER_PID" ]; then kill "$SENDER_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

echo "== creating a sample tree in $WORK/sample"
SAMPLE=$WORK/sample
mkdir -p "$SAMPLE"
n=0
for a in alpha beta gamma delta; do
	for b in one two three; do
		d=$SAMPLE/$a/$b/leaf
		mkdir -p "$d"
		for i in $(seq 1 25); do
			head -c $(( (RANDOM * 7 + i) % 65536 )) /dev/urandom >"$d/file$i.bin"
			n=$((n + 1))
		done
		printf 'notes for %s/%s\n' "$a" "$b" >"$SAMPLE/$a/$b/README.txt"
		n=$((n + 1))
	done
done
: >"$SAMPLE/empty.txt"
head -c 200M /dev/urandom >"$SAMPLE/big.iso"
n=$((n + 2))
echo "   $n files, $(du -sh "$SAMPLE" | cut -f1)"

DEST=$WORK/received
mkdir -p "$DEST" "$WORK/state-send" "$WORK/state-recv"

# The two peers. $1 = network flags for the sender, $2 = for the receiver
# (the receiver's may contain @ADDR@, replaced by the sender's address).
peers() {
	local send_flags=$1 recv_flags=$2
	PCP_STATE_DIR=$WORK/state-send "$BIN" send --json $send_flags "$SAMPLE" >"$WORK/send.json" 2>"$WORK/send.err" &
	SENDER_PID=$!
	local words= addr= i
	for i in $(seq 1 300); do
		words=$(sed -n 's/.*"event":"passphrase".*"passphrase":"\([a-z-]*\)".*/\1/p' "$WORK/send.json" | head -1)
		addr=$(sed -n 's/.*"event":"listening","addrs":\["\([^"]*\)".*/\1/p' "$WORK/send.json" | head -1)
		if [ -n "$words" ] && [ -n "$addr" ]; then break; fi
		if ! kill -0 "$SENDER_PID" 2>/dev/null; then cat "$WORK/send.err"; exit 1; fi
		sleep 0.1
	done
	[ -n "$words" ] || { echo "sender printed no passphrase"; cat "$WORK/send.err"; exit 1; }
	echo "== sender offers $SAMPLE with passphrase: $words"
	recv_flags=${recv_flags//@ADDR@/$addr}
	echo "== pcp receive $recv_flags --yes -o $DEST $words"
	PCP_STATE_DIR=$WORK/state-recv "$BIN" receive $recv_flags --yes -o "$DEST" "$words"
	wait "$SENDER_PID"
	SENDER_PID=
}

if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null && [ -z "${PCP_DEMO_IN_NS:-}" ]; then
	echo "== root: running both peers in a new network namespace, real mDNS on loopback"
	export -f peers
	export BIN WORK SAMPLE DEST SENDER_PID
	PCP_DEMO_IN_NS=1 unshare -n bash -c '
		set -euo pipefail
		ip link set lo up
		ip link set lo multicast on
		ip route add 224.0.0.0/4 dev lo 2>/dev/null || true
		peers "--mdns-only" "--mdns-only --timeout 60s"
	'
else
	echo "== not root (or no unshare/ip): the receiver dials the sender directly on loopback"
	peers "--no-discovery --listen /ip4/127.0.0.1/tcp/0" "--direct @ADDR@"
fi

echo "== pcp verify $DEST"
PCP_STATE_DIR=$WORK/state-recv "$BIN" verify "$DEST"
echo "== byte comparison (diff -r)"
diff -r "$SAMPLE" "$DEST/sample"
echo "== demo OK: $n files received, verified and identical"
