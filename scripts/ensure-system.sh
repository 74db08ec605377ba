#!/usr/bin/env bash
# Install the Debian/Ubuntu packages that building, running and testing Aether need.
#
# Fast and quiet when everything is present (one dpkg-query call). Otherwise runs
# `apt-get update` + `apt-get install --no-install-recommends` for the missing packages only:
# directly as root, else through `sudo -n`, else prints the exact command and exits 1.
#
# Options: --check  only report what is missing (exit 1 if anything is)
#          --print  print the package list and exit
# Env:     AETHER_SYSTEM_EXTRA="pkg ..."  additional packages
#          AETHER_SKIP_SYSTEM=1           do nothing (e.g. a pre-provisioned image)
set -euo pipefail

PACKAGES=(
    # Qt xcb platform plugin + OpenGL through Mesa (llvmpipe); PySide6 wheels bundle Qt, not these
    libgl1 libegl1 libgl1-mesa-dri libglib2.0-0 libfontconfig1 libdbus-1-3
    libxkbcommon0 libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0
    libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-render0 libxcb-shape0
    libxcb-util1 libxcb-xfixes0 libxcb-xkb1
    # virtual X server, input injection, screenshots, tray host
    xvfb xauth x11-utils xdotool imagemagick trayer
    # Secret Service for `keyring` (dbus also brings dbus-daemon and dbus-send)
    dbus gnome-keyring
    # audio: PulseAudio virtual devices; libpulse0 is needed even to import QtMultimedia
    pulseaudio pulseaudio-utils libpulse0 libasound2-plugins alsa-utils
    # colour emoji in the conversation (without it an emoji is an empty box)
    fonts-noto-color-emoji
    # speech
    espeak-ng libespeak-ng1 sox
    # inspecting the databases by hand / in scripts
    sqlite3
    # validating the desktop entry and the AppStream metainfo (packaging/)
    desktop-file-utils appstream
    # bootstrapping on a bare machine: the venv (python3.11 on Debian 12) and make itself
    python3 python3-venv make
)
# shellcheck disable=SC2206
PACKAGES+=(${AETHER_SYSTEM_EXTRA:-})

case "${1:-}" in
    --print) printf '%s\n' "${PACKAGES[@]}"; exit 0 ;;
    --check | "") ;;
    *) echo "usage: $0 [--check|--print]" >&2; exit 2 ;;
esac

if [ "${AETHER_SKIP_SYSTEM:-0}" = 1 ]; then
    exit 0
fi
if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-system: not a Debian/Ubuntu system; install the equivalents of:" >&2
    echo "  ${PACKAGES[*]}" >&2
    exit 0
fi

installed_set() {   # prints the names of installed packages (t64 renames map back)
    dpkg-query -W -f='${Package} ${db:Status-Status}\n' 2>/dev/null |
        awk '$2 == "installed" { sub(/:.*/, "", $1); print $1; if ($1 ~ /t64$/) print substr($1, 1, length($1) - 3) }'
}

missing_packages() {
    local have
    have=$(installed_set)
    local pkg
    for pkg in "${PACKAGES[@]}"; do
        grep -qxF -- "$pkg" <<<"$have" || printf '%s\n' "$pkg"
    done
}

mapfile -t MISSING < <(missing_packages)
if [ "${#MISSING[@]}" -eq 0 ]; then
    exit 0
fi
echo "ensure-system: missing Debian packages: ${MISSING[*]}" >&2
if [ "${1:-}" = --check ]; then
    exit 1
fi

APT_OPTS=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300)
if [ "$(id -u)" = 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "ensure-system: not root and no password-less sudo. Please run:" >&2
    echo "  sudo apt-get update && sudo apt-get install ${APT_OPTS[*]} ${MISSING[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install "${APT_OPTS[@]}" "${MISSING[@]}"

mapfile -t STILL < <(missing_packages)
if [ "${#STILL[@]}" -ne 0 ]; then
    echo "ensure-system: still missing after apt-get install: ${STILL[*]}" >&2
    exit 1
fi
echo "ensure-system: installed ${MISSING[*]}" >&2
