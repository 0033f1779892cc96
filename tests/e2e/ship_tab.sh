# Pressing TAB after `kwh sel` gives `sell`: in bash (sourced into a non-interactive shell, with
# and without the bash-completion package loaded), and in zsh and fish when they are installed.
. "$(dirname "$0")/lib.sh"
export PATH=$(dirname "$KWH"):$PATH
# The shells may write history and settings under $HOME: keep them in the test's folder.
export HOME=$T XDG_CONFIG_HOME=$T/.config XDG_DATA_HOME=$T/.local/share
comp=$KWH_SOURCE/completions

# bash_complete WORD...: what _kwh offers for the command line WORD... (the last is completed).
bash_complete() {
  bash --norc --noprofile -c '
    . "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _kwh kwh "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf "%s\n" "${COMPREPLY[@]}"' bash "$comp/kwh.bash" "$@"
}

equals "$(bash_complete kwh sel)" "sell"
equals "$(bash_complete kwh --json sel)" "sell"
equals "$(bash_complete kwh re | tr '\n' ' ')" "refund relay reading report "
equals "$(bash_complete kwh relay o | tr '\n' ' ')" "on off "
equals "$(bash_complete kwh report sales --format x)" "xlsx"
equals "$(bash_complete kwh meter add M1 --relay-mode p)" "protect"
equals "$(bash_complete kwh account list --status ar)" "arrears"
equals "$(bash_complete kwh sell A1 10 --method ca | tr '\n' ' ')" "cash card "
# An option's value is not taken for a subcommand: `--db meter` is a file.
equals "$(bash_complete kwh --format json me)" "meter"

# Ids come from the database on the command line; when kwh fails, nothing is offered.
equals "$(bash_complete kwh --db "$T/none.db" gateway show "")" ""
if kwh init -q && kwh gateway add gw-north --tcp 127.0.0.1:1502 -q >/dev/null 2>&1; then
  equals "$(bash_complete kwh --db "$KWH_DB" gateway show gw-)" "gw-north"
  equals "$(bash_complete kwh gateway test "")" "gw-north"
fi

# With the bash-completion package loaded, as in an interactive shell.
if [ -f /usr/share/bash-completion/bash_completion ]; then
  out=$(bash --norc --noprofile -c '
    . /usr/share/bash-completion/bash_completion; . "$1"
    COMP_WORDS=(kwh sel); COMP_CWORD=1; COMP_LINE="kwh sel"; COMP_POINT=7
    _kwh; printf "%s\n" "${COMPREPLY[@]}"' bash "$comp/kwh.bash")
  equals "$out" "sell"
fi

if command -v fish >/dev/null; then
  out=$(fish --no-config -c "source $comp/kwh.fish; complete -C'kwh sel'" | cut -f1)
  equals "$out" "sell"
fi

# zsh, through a pseudo-terminal: the completion system, compinit and a real TAB.
if command -v zsh >/dev/null; then
  mkdir -p "$T/zfunc" && cp "$comp/_kwh" "$T/zfunc/"
  out=$(ZDOTDIR=$T timeout 30 zsh -f -c '
    zmodload zsh/zpty || exit 125
    zpty z "zsh -f -i"
    zpty -w z "PS1=\"%% \"; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D; setopt nobeep; print RE\"\"ADY"
    zpty -r -m z chunk "*READY*"
    zpty -w -n z "kwh sel"$'"'"'\t'"'"'
    out=""
    for i in {1..50}; do
      sleep 0.2
      while zpty -r -t z chunk; do out+=$chunk; done
      [[ $out == *"kwh sell"* ]] && break
    done
    zpty -d z
    print -r -- "$out"' zsh "$T/zfunc" 2>&1) || true
  contains "$out" "kwh sell"
fi

echo ok
