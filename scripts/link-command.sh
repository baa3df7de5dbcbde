#!/usr/bin/env bash
# Puts the `leonet` command on the PATH: links LINK (default /usr/local/bin/leonet) to TARGET, this
# checkout's venv command, unless LINK is another checkout's working command. Run by install.sh.
#
#   usage: link-command.sh TARGET [LINK]
#   LEONET_LINK=auto     (default) link when LINK is missing, a dangling link or not a working command
#                        (a checkout that ran the installer and was deleted); keep another checkout's
#                        working command, and say which one it is and how to change it
#   LEONET_LINK=replace  point LINK at TARGET whatever it was
#   LEONET_LINK=no       leave LINK alone (e.g. a throwaway clone: CI)
#
# Always says which command LINK runs afterwards.
set -euo pipefail

say() { printf '[leonet install] %s\n' "$*"; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 TARGET [LINK]" >&2
    exit 2
fi
target="$1"
link="${2:-/usr/local/bin/leonet}"
mode="${LEONET_LINK:-auto}"
case "$mode" in
    auto|replace|no) ;;
    *) echo "leonet install: LEONET_LINK=$mode is not one of auto, replace, no" >&2; exit 2 ;;
esac
if [ ! -x "$target" ]; then
    echo "leonet install: $target is not an executable command (was leonet installed into that venv?)" >&2
    exit 1
fi
if [ -d "$link" ] && [ ! -L "$link" ]; then
    echo "leonet install: $link is a directory; give the command's path, e.g. $link/leonet" >&2
    exit 2
fi
installer="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/install.sh"

if [ "$mode" = no ]; then
    say "left $link alone (LEONET_LINK=no); this checkout's command is $target"
    exit 0
fi
if [ -e "$link" ] && [ "$(readlink -f "$link")" = "$(readlink -f "$target")" ]; then
    say "$link runs this checkout's command ($target)"
    exit 0
fi

was=""
if [ -L "$link" ]; then
    was="$(readlink "$link")"
fi
works=false
if [ -f "$link" ] && [ -x "$link" ]; then
    works=true
fi

if [ ! -e "$link" ] && [ ! -L "$link" ]; then
    why="there was none"
elif [ "$mode" = replace ]; then
    why="LEONET_LINK=replace; it ran ${was:-a file of its own}"
elif ! $works && [ -n "$was" ]; then
    why="it was a link to $was, which is not a working command (its checkout or venv is gone)"
elif ! $works; then
    why="it was a file that is not a working command"
else
    say "kept $link -> ${was:-(a file)}: another checkout's or install's working command"
    say "to run this checkout's ($target) instead: sudo LEONET_LINK=replace $installer"
    say "  (or: sudo ln -sfn $target $link)"
    exit 0
fi
mkdir -p "$(dirname "$link")"
ln -sfn "$target" "$link"
say "linked $link -> $target ($why)"
