#!/usr/bin/env bash
# Provision (or converge) the tenants named on the command line from a CI job.
#
#   RENDER_API_KEY=… examples/ci-provision.sh acme globex "Initech Ltd"
#
# Every run is safe to repeat: an existing tenant is resumed, never duplicated.
# Exit status: 0 when every tenant is ACTIVE; otherwise the first failing rcp exit code
# (75 = temporary, rerun later; 124 = timed out waiting, rerun to keep waiting).
set -uo pipefail

export RCP_OUTPUT=json       # one JSON document per call on stdout
export CI="${CI:-true}"      # never prompt

status=0
for name in "$@"; do
    # Options first, then `--`: a name that starts with "-" is a name, never an option.
    if out="$(rcp tenant create --timeout "${RCP_CREATE_TIMEOUT:-20m}" -- "$name")"; then
        slug="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["slug"])' <<<"$out")"
        echo "ok: $name -> $slug" >&2
    else
        code=$?
        message="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["error"]["message"])' <<<"$out" 2>/dev/null || echo "no JSON")"
        echo "failed ($code): $name: $message" >&2
        case "$code" in
            75|124) echo "  temporary: rerun this job to resume" >&2 ;;
        esac
        [ "$status" -eq 0 ] && status=$code
    fi
done

# A machine-readable summary for the job log.
rcp tenant list
exit "$status"
