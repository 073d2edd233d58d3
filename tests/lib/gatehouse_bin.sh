# Sourced by the suites under tests/ that drive a built server: resolves GATEHOUSE_BIN (absolute,
# relative to the working directory, or relative to the repository) into $bin, or exits 2 with
# a message prefixed by the suite's name.
#   source tests/lib/gatehouse_bin.sh; gatehouse_bin FAULTS "$repo"
gatehouse_bin() {
  local suite=$1 repo=$2
  if [[ -z "${GATEHOUSE_BIN:-}" ]]; then
    echo "$suite: set GATEHOUSE_BIN to the gatehouse binary (e.g. target/debug/gatehouse)" >&2
    exit 2
  fi
  case "$GATEHOUSE_BIN" in
    /*) bin="$GATEHOUSE_BIN" ;;
    *) if [[ -x "$GATEHOUSE_BIN" ]]; then bin="$(pwd)/$GATEHOUSE_BIN"; else bin="$repo/$GATEHOUSE_BIN"; fi ;;
  esac
  if [[ ! -x "$bin" ]]; then
    echo "$suite: GATEHOUSE_BIN=$GATEHOUSE_BIN is not an executable file" >&2
    exit 2
  fi
}
