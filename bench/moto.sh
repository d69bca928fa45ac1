# Sourced by the S3 benchmarks: start_moto starts moto_server on a free loopback port with its files in $work,
# sets moto_pid (the caller's EXIT trap kills it), exports the S3 credentials and endpoint (through the environment
# only: never on a command line) and creates the bucket "bench".
start_moto() {
  for tool in moto_server aws curl python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool for the s3 runs: run scripts/install-deps.sh" >&2; exit 1; }
  done
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  (cd "$work" && exec moto_server -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1) &
  moto_pid=$!
  for _ in $(seq 300); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
    kill -0 "$moto_pid" 2>/dev/null || { echo "moto_server died: $(tail -3 "$work/moto.log")" >&2; exit 1; }
    sleep 0.1
  done
  export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1
  export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port AWS_ENDPOINT_URL=http://127.0.0.1:$port
  aws s3 mb s3://bench >/dev/null
}
