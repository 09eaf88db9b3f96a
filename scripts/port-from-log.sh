# Sourced by the check scripts (not run on its own).
#
# port_from_log LOG PID REGEX: waits up to 10 s for the server started as PID to write a line
# matching REGEX (a sed expression whose group 1 is the port) into LOG, and prints that port.
# Prints nothing if the server exits first or says nothing in time: the caller reports that and
# shows LOG. Servers started on port 0 (the system picks a free one) say which port in their
# first log line.
port_from_log() {
    local log=$1 pid=$2 regex=$3 port=""
    for _ in $(seq 100); do
        port=$(sed -n "s|$regex|\1|p" "$log")
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    printf '%s' "$port"
}
