# Sourced by scripts/echo-bench.sh and scripts/echo-compare.sh (not run on its own): the cases
# both measure, each "connections payload_bytes messages_in_flight_per_connection".
echo_cases=(
    "16 16 1"
    "128 16 1"
    "128 1024 1"
    "16 65536 1"
    "16 16 16"
)
