#!/usr/bin/env bash
# Run a command inside a private, throw-away headless desktop session:
#
#   Xvfb (display picked with -displayfd, MIT cookie) + trayer (XEmbed tray host)
#   + PulseAudio (null sink "vsink", FIFO-fed virtual mic "vmic", 16 kHz mono s16le)
#   + session D-Bus + gnome-keyring (Secret Service, unlocked with a non-empty password)
#
# Usage: scripts/with-desktop.sh CMD [ARGS...]
#
# Exported to CMD: DISPLAY XAUTHORITY QT_QPA_PLATFORM=xcb XDG_RUNTIME_DIR HOME (throw-away)
#   DBUS_SESSION_BUS_ADDRESS PULSE_SERVER VMIC_FIFO AETHER_DESKTOP_ENV=1 EXPECT_SECRET_SERVICE=1
#   AETHER_DESKTOP_DIR (the private temp dir; logs live in $AETHER_DESKTOP_DIR/log)
#
# Every service is started by this script and stopped by its PID on exit (EXIT/INT/TERM);
# the temp dir is removed; the exit code is CMD's. Works as root and concurrently with
# other runs (nothing global is hard-coded).
#
# Knobs: AETHER_DESKTOP_KEEP=1 keeps the temp dir (logs) after the run;
#        AETHER_DESKTOP_GEOMETRY=1280x1024x24 screen size;
#        AETHER_DESKTOP_PYTHON=... python with python-xlib (default: the repo's .venv).
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
XPY=${AETHER_DESKTOP_PYTHON:-$ROOT/.venv/bin/python}
GEOMETRY=${AETHER_DESKTOP_GEOMETRY:-1280x1024x24}
STARTUP_TIMEOUT=${AETHER_DESKTOP_TIMEOUT:-15}   # seconds per service

for tool in Xvfb xauth trayer pulseaudio pactl dbus-daemon dbus-send gnome-keyring-daemon; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "with-desktop: '$tool' not found; run scripts/ensure-system.sh first" >&2
        exit 127
    fi
done
if ! "$XPY" -c 'import Xlib' >/dev/null 2>&1; then
    echo "with-desktop: $XPY cannot import Xlib (python-xlib); run scripts/ensure-venv.sh first" >&2
    exit 127
fi

RUN=$(mktemp -d "${TMPDIR:-/tmp}/aether-desktop.XXXXXXXX")
chmod 700 "$RUN"
LOG=$RUN/log
mkdir -p "$RUN/xdg" "$RUN/home" "$LOG"
chmod 700 "$RUN/xdg" "$RUN/home"

PIDS=()     # services, in start order; stopped in reverse order
NAMES=()

log() { printf 'with-desktop: %s\n' "$*" >&2; }

stop_pid() {   # stop_pid PID NAME: TERM, wait up to ~3 s, then KILL
    local pid=$1 name=$2 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 60; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

CLEANED=0
cleanup() {
    [ "$CLEANED" = 1 ] && return 0
    CLEANED=1
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${PIDS[$i]}" "${NAMES[$i]}"
    done
    if [ "${AETHER_DESKTOP_KEEP:-0}" = 1 ]; then
        log "kept $RUN"
    else
        rm -rf "$RUN"
    fi
}
CMD_PID=
on_signal() {   # on_signal SIGNAL EXIT_CODE
    trap - INT TERM HUP
    if [ -n "$CMD_PID" ] && kill -0 "$CMD_PID" 2>/dev/null; then
        if [ "$1" = INT ]; then
            # Ctrl-C reached CMD too (same process group): give it time to report and exit
            log "interrupted; waiting for CMD (pid $CMD_PID) to finish"
            local i
            for ((i = 0; i < 100; i++)); do kill -0 "$CMD_PID" 2>/dev/null || break; sleep 0.1; done
        fi
        stop_pid "$CMD_PID" CMD
    fi
    exit "$2"
}
trap cleanup EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM
trap 'on_signal HUP 129' HUP

start() {   # start NAME CMD...: background a service (stdin: $START_STDIN), remember its pid
    local name=$1
    shift
    "$@" <"${START_STDIN:-/dev/null}" >"$LOG/$name.log" 2>&1 &
    PIDS+=("$!")
    NAMES+=("$name")
}

fail() {   # fail NAME MESSAGE: show the service's log and give up
    log "$2"
    if [ -s "$LOG/$1.log" ]; then
        log "---- tail of $1.log"
        tail -n 30 "$LOG/$1.log" >&2
    fi
    exit 125
}

wait_for() {   # wait_for NAME PID CHECK...: poll CHECK until it succeeds or the service dies
    local name=$1 pid=$2 deadline=$((SECONDS + STARTUP_TIMEOUT))
    shift 2
    until "$@" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || fail "$name" "$name (pid $pid) exited during start-up"
        [ "$SECONDS" -lt "$deadline" ] || fail "$name" "$name not ready after ${STARTUP_TIMEOUT}s"
        sleep 0.05
    done
}

# ---- environment for the services and CMD: nothing from the caller's session leaks in
export HOME=$RUN/home XDG_RUNTIME_DIR=$RUN/xdg
unset XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME XDG_STATE_HOME XDG_SESSION_TYPE \
    WAYLAND_DISPLAY SESSION_MANAGER DBUS_SESSION_BUS_ADDRESS PULSE_SERVER PULSE_COOKIE \
    GNOME_KEYRING_CONTROL SSH_AUTH_SOCK PYTHON_KEYRING_BACKEND AETHER_HOME \
    QT_QPA_PLATFORMTHEME QT_SCALE_FACTOR QT_SCREEN_SCALE_FACTORS

# ---- 1) X server. -displayfd: the server picks a free display and writes its number to fd 3.
export XAUTHORITY=$RUN/Xauthority
COOKIE=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
: >"$XAUTHORITY"
# The server accepts every cookie in its -auth file whatever display it names; the
# client entry for the real display number is added once the server has chosen it.
xauth -q -f "$XAUTHORITY" add ":0" MIT-MAGIC-COOKIE-1 "$COOKIE"
exec 3>"$RUN/display"
start xvfb Xvfb -displayfd 3 -screen 0 "$GEOMETRY" -nolisten tcp -auth "$XAUTHORITY" \
    +extension GLX +extension RANDR -dpi 96
exec 3>&-
XVFB_PID=${PIDS[-1]}
wait_for xvfb "$XVFB_PID" test -s "$RUN/display"
# -displayfd writes "N\n"; wait for the newline so a partial write is never read
wait_for xvfb "$XVFB_PID" grep -q '^[0-9][0-9]*$' "$RUN/display"
DISPLAY_NUM=$(head -n1 "$RUN/display")
export DISPLAY=:$DISPLAY_NUM
xauth -q -f "$XAUTHORITY" remove ":0"
xauth -q -f "$XAUTHORITY" add "$DISPLAY" MIT-MAGIC-COOKIE-1 "$COOKIE"
x_ready() { "$XPY" -c 'from Xlib import display; display.Display().close()'; }
wait_for xvfb "$XVFB_PID" x_ready

# ---- 2) session D-Bus (own pid; started before the other services so that none of
#      them autolaunches a stray bus through X11) + gnome-keyring Secret Service, unlocked with a password
exec 4>"$RUN/bus.address"
start dbus dbus-daemon --session --nofork --nopidfile --nosyslog \
    --address="unix:path=$RUN/bus" --print-address=4
exec 4>&-
DBUS_PID=${PIDS[-1]}
wait_for dbus "$DBUS_PID" grep -q '^unix:' "$RUN/bus.address"
DBUS_SESSION_BUS_ADDRESS=$(head -n1 "$RUN/bus.address")
export DBUS_SESSION_BUS_ADDRESS

# An EMPTY unlock password makes every later request fail with "Prompt dismissed".
KEYRING_PASSWORD="aether-ci-$COOKIE"
# The password goes through a 0600 file in the private dir: a pipe would leave a shell,
# not the daemon, behind the recorded pid.
(umask 077 && printf %s "$KEYRING_PASSWORD" >"$RUN/keyring.pass")
START_STDIN=$RUN/keyring.pass start gnome-keyring gnome-keyring-daemon --foreground --unlock \
    --components=secrets --control-directory="$RUN/keyring"
KEYRING_PID=${PIDS[-1]}
secrets_ready() {
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | grep -q 'boolean true'
}
wait_for gnome-keyring "$KEYRING_PID" secrets_ready
rm -f "$RUN/keyring.pass"
unset KEYRING_PASSWORD

# ---- 3) tray host; ready once it owns the _NET_SYSTEM_TRAY_S0 selection
start trayer trayer --edge top --align right --widthtype pixel --width 200 \
    --heighttype pixel --height 30
TRAYER_PID=${PIDS[-1]}
"$XPY" - "$STARTUP_TIMEOUT" <<'PY' || fail trayer "trayer never took _NET_SYSTEM_TRAY_S0"
import sys
import time

from Xlib import X, display

d = display.Display()
atom = d.intern_atom(f"_NET_SYSTEM_TRAY_S{d.get_default_screen()}")
deadline = time.monotonic() + float(sys.argv[1])
while d.get_selection_owner(atom) == X.NONE:
    if time.monotonic() > deadline:
        sys.exit(1)
    time.sleep(0.05)
PY
kill -0 "$TRAYER_PID" 2>/dev/null || fail trayer "trayer exited during start-up"

# ---- 4) PulseAudio in user mode (also as root) with a null sink and a FIFO virtual mic
export VMIC_FIFO=$RUN/vmic.fifo PULSE_SERVER=unix:$RUN/pulse.sock
PA_ARGS=(-n --daemonize=no --exit-idle-time=-1 --use-pid-file=no --realtime=no
    --high-priority=no --log-target=stderr --log-level=notice
    --load="module-native-protocol-unix auth-anonymous=1 socket=$RUN/pulse.sock"
    --load="module-null-sink sink_name=vsink sink_properties=device.description=vsink"
    --load="module-pipe-source source_name=vmic file=$VMIC_FIFO format=s16le rate=16000 channels=1")
if [ "$(id -u)" = 0 ]; then
    PA_ARGS=(--system=false "${PA_ARGS[@]}")   # root: warns "not intended to be run as root", works
fi
start pulseaudio pulseaudio "${PA_ARGS[@]}"
PULSE_PID=${PIDS[-1]}
wait_for pulseaudio "$PULSE_PID" pactl info
pactl set-default-sink vsink
pactl set-default-source vmic
[ -p "$VMIC_FIFO" ] || fail pulseaudio "module-pipe-source did not create $VMIC_FIFO"

# ---- run CMD
export QT_QPA_PLATFORM=xcb LIBGL_ALWAYS_SOFTWARE=1 NO_AT_BRIDGE=1
export AETHER_DESKTOP_ENV=1 EXPECT_SECRET_SERVICE=1 AETHER_DESKTOP_DIR=$RUN
log "DISPLAY=$DISPLAY tray, vsink/vmic, D-Bus + Secret Service ready (${SECONDS}s); running: $*"
# CMD runs in the background so that a SIGTERM to this script is forwarded at once (a
# foreground child would defer the trap until it exits). Background jobs of a
# non-interactive shell ignore SIGINT/SIGQUIT and read /dev/null: undo both.
set +e
if env --default-signal=INT true 2>/dev/null; then
    env --default-signal=INT,QUIT -- "$@" 0<&0 &
    CMD_PID=$!
    wait "$CMD_PID"
    rc=$?
else   # coreutils < 8.31: run in the foreground (a SIGTERM then waits for CMD)
    "$@"
    rc=$?
fi
set -e
exit "$rc"
