#!/usr/bin/env bash
# Screenshots of the console's views, from a real run on the embedded lab.
#
#   assets/capture.sh            (from the repository root; needs tmux and python3 with rich)
#
# Builds the release binary, runs `switchboard --lab --seed 7 --escalations 200` in a detached
# tmux session of 100x30 with an empty HOME and XDG dirs, walks to each view with send-keys
# (sending one drain on the way, so the timeline and audit have something to show), captures
# each with its colours (capture-pane -e) and converts it with assets/ansi_to_svg.py.
# The only network it uses is the embedded lab on 127.0.0.1.
set -euo pipefail

cd "$(dirname "$0")/.."
assets=assets
width=100
height=30

cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/switchboard

home=$(mktemp -d)
session="sb-capture-$$"
cleanup() {
    tmux kill-session -t "$session" 2>/dev/null || true
    rm -rf "$home"
}
trap cleanup EXIT

tmux new-session -d -s "$session" -x "$width" -y "$height" \
    env -i HOME="$home" PATH="$PATH" TERM=xterm-256color \
    XDG_CONFIG_HOME="$home/config" XDG_STATE_HOME="$home/state" XDG_DATA_HOME="$home/data" \
    "$bin" --lab --seed 7 --escalations 200

screen() { tmux capture-pane -p -t "$session"; }

# Waits until the screen shows $1 (30 s at most).
wait_for() {
    for _ in $(seq 300); do
        if screen | grep -qF -- "$1"; then return 0; fi
        sleep 0.1
    done
    echo "capture: timed out waiting for '$1'; screen:" >&2
    screen >&2
    exit 1
}

keys() { tmux send-keys -t "$session" "$@"; }
# Escape alone: a key right behind it would read as alt+key.
escape() {
    keys Escape
    sleep 0.5
}

# Captures the screen as assets/$1.svg once it shows $2, titled $3.
shot() {
    wait_for "$2"
    sleep 0.3 # let the frame that shows it finish drawing
    tmux capture-pane -e -p -t "$session" |
        python3 "$assets/ansi_to_svg.py" "$width" "switchboard · $3" >"$assets/$1.svg"
    echo "$assets/$1.svg: $(wc -c <"$assets/$1.svg") bytes"
}

wait_for "lab live"
sleep 3 # a few samples for the sparklines
keys 1
shot fleet "Regions × providers" "Fleet (1)"
keys 2
shot services "Services" "Services (2)"
keys 1
wait_for "Regions × providers"
keys '?'
shot help "Keys (esc closes" "Help (?)"
escape
# Drain us-east (the selected region): the preflight refuses (eu-west would be overloaded);
# once captured, give a reason and the FORCE override and send it, for the timeline and audit.
keys d
shot drain "preflight:" "Drain confirmation with its preflight (d)"
keys -l "capacity drill"
keys Tab Tab
keys -l FORCE
keys Enter
wait_for "drained"
keys 3
shot timeline "Timeline" "Timeline (3)"
keys 4
shot audit "drain us-east" "Audit (4)"
keys 5
shot inbox "Inbox ·" "Inbox (5)"
keys Enter
wait_for "Lineage"
keys Tab Tab Tab
shot lineage "rows 1-" "A task's lineage"
escape
keys q
