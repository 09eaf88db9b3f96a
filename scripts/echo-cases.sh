# Sourced by scripts/echo-bench.sh and scripts/echo-compare.sh (not run on its own): the cases
# both measure, each "connections payload_bytes messages_in_flight_per_connection".
# ECHO_CASES overrides them, cases separated by commas: ECHO_CASES="128 1024 1, 16 16 1".
echo_cases=(
    "16 16 1"
    "128 16 1"
    "128 1024 1"
    "16 65536 1"
    "16 16 16"
)
if [ -n "${ECHO_CASES:-}" ]; then
    IFS=, read -r -a echo_cases <<<"$ECHO_CASES"
    for index in "${!echo_cases[@]}"; do
        read -r -a fields <<<"${echo_cases[$index]}"
        if [ "${#fields[@]}" -ne 3 ]; then
            echo "ECHO_CASES: '${echo_cases[$index]}' is not 'connections payload_bytes in_flight'" >&2
            exit 2
        fi
        echo_cases[$index]="${fields[*]}"
    done
fi
