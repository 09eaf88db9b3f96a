# Sourced by scripts/echo-bench.sh and scripts/echo-compare.sh (not run on its own): where the
# servers and the load generator run.
#
# SERVER_CPUS and LOAD_CPUS, taskset(1) lists such as "0" or "2-3", pin the servers and
# echo_load to those CPUs; unset, they run wherever the system puts them (sharing every core).
# Pinned apart (on 2 cores: SERVER_CPUS=0 LOAD_CPUS=1), msgs/s no longer follows the CPU time
# the pair spends per message, as it does when both share every core: the load generator's own
# cost stops weighing on the server. A tokio server then starts one worker per CPU it may use.
server_cpus=${SERVER_CPUS:-}
load_cpus=${LOAD_CPUS:-}
for cpus in "$server_cpus" "$load_cpus"; do
    if [ -n "$cpus" ] && ! taskset -c "$cpus" true 2>/dev/null; then
        echo "SERVER_CPUS, LOAD_CPUS: cannot run on CPUs '$cpus' (taskset -c $cpus)" >&2
        exit 2
    fi
done

# The words to put before a server's or echo_load's command: taskset, which then executes it
# (so its process id stays the command's own), or nothing.
server_pin=() load_pin=()
[ -z "$server_cpus" ] || server_pin=(taskset -c "$server_cpus")
[ -z "$load_cpus" ] || load_pin=(taskset -c "$load_cpus")

# describe_cpus: one line saying where the servers and the load run.
describe_cpus() {
    if [ -n "$server_cpus$load_cpus" ]; then
        echo "servers on CPUs ${server_cpus:-any}, load generator on CPUs ${load_cpus:-any}"
    else
        echo "servers and load generator share every CPU"
    fi
}
