# bash completion for kwh(1)                                  -*- shell-script -*-
#
# Installed as /usr/share/bash-completion/completions/kwh (loaded on first use by the
# bash-completion package), or sourced by hand: `. completions/kwh.bash`. It needs nothing from
# bash-completion. Written from the command line of kwh(1) and kwh-*(1);
# tests/e2e/ship_completions.sh checks it against `kwh --help` so that the two cannot drift.
# Ids (meters, accounts, gateways, tariffs, operators) come from `kwh ... list -q` on the
# database named on the command line, if any; when that fails, nothing is offered.

# Options that every command takes. A trailing "=" marks an option that takes a value.
_kwh_global_options="--db= --config= --format= --json -q --quiet --yes --help --version"

# The words that may follow a command path: its subcommands, or the fixed first argument
# (relay actions, report names).
_kwh_words() {
  case $1 in
    "") echo "init gateway meter tariff account sell refund relay reading report operator log check sim serve hub" ;;
    gateway) echo "add import list show remove retire test" ;;
    meter) echo "add import list show read set replace remove sync-time" ;;
    tariff) echo "add list show issue" ;;
    account) echo "open import list show attach detach close credit debt link" ;;
    "account debt") echo "add list" ;;
    relay) echo "on off auto protect" ;;
    reading) echo "import list accept reject prune" ;;
    report) echo "sales energy balances alarms offline gateways readings reconcile statement debts emergency" ;;
    operator) echo "add list remove" ;;
    hub) echo "init status sell report check reset-epoch" ;;
    "hub report") echo "sales balances energy" ;;
  esac
}

# The options of a command path.
_kwh_options() {
  case $1 in
    "gateway add") echo "--tcp= --rtu-over-tcp= --rtu= --dlt645-tcp= --dlt645= --baud= --parity= --stop-bits= --rts= --rts-delay-us= --password= --operator-code= --timeout-ms= --gap-ms=" ;;
    "meter add")
      echo "--gateway= --unit= --address= --device= --profile= --kind= --building= --room= --relay-mode= --overload-w=" ;;
    "meter set")
      echo "--gateway= --unit= --address= --device= --no-device --profile= --kind= --building= --room= --relay-mode= --overload-w= --alarm1= --alarm2= --wait=" ;;
    "meter list") echo "--status= --gateway= --building=" ;;
    "gateway import" | "meter import") echo "--dry-run --update" ;;
    "account import") echo "--dry-run --update --receipts=" ;;
    "gateway list") echo "--all" ;;
    "meter read") echo "--direct" ;;
    "meter replace") echo "--time=" ;;
    "meter sync-time") echo "--building= --all --wait=" ;;
    "tariff add") echo "--flat= --file= --effective= --unit=" ;;
    "tariff issue") echo "--building= --all --wait=" ;;
    "account open")
      echo "--name= --tariff= --meter= --alarm1= --alarm2= --credit-limit= --phone= --language= --opened= --emergency-credit=" ;;
    "account list") echo "--status=" ;;
    "account attach" | "account detach") echo "--time=" ;;
    "account close") echo "--refund" ;;
    "account debt list") echo "--all" ;;
    "account debt add") echo "--note= --recover= --fixed= --every=" ;;
    "account link") echo "--ttl= --revoke" ;; # --json is global
    sell) echo "--ref= --method= --receipt=" ;;
    refund) echo "--ref= --receipt=" ;;
    relay | "relay "*) echo "--account= --building= --all --wait= --direct" ;;
    "reading list") echo "--from= --to= --held" ;;
    "reading prune") echo "--dry-run" ;;
    report | "report "*) echo "--from= --to= --by= --account= --meter= --active --raw --output=" ;;
    "operator add") echo "--role=" ;;
    log) echo "--since= --verify --head --expect-head= --hooks --kind= --state= --account=" ;;
    sim) echo "--meters= --gateways= --listen= --profile= --protocol= --password= --speed= --load-w= --faults= --rtu-over-tcp --seed= --clock-drift=" ;;
    serve) echo "--listen= --base-url= --insecure-cookies" ;;
    "hub init") echo "--url=" ;;
    "hub sell") echo "--ref= --method= --wait= --operator= --url=" ;; # --json is global
    "hub report") echo "--site= --all --from= --to= --by= --url=" ;;
    "hub check") echo "--site= --all --url=" ;;
  esac
}

# Whether option $2 of command path $1 takes a value.
_kwh_takes_value() {
  local o
  for o in $_kwh_global_options $(_kwh_options "$1"); do
    [[ $o == "$2=" ]] && return 0
  done
  return 1
}

# Ids of one kind from the database: `kwh [--db X] [--config Y] KIND list -q`.
_kwh_ids() {
  "${_kwh_cmd[@]}" "$1" list -q 2>/dev/null
}

_kwh_files() {
  compopt -o filenames 2>/dev/null
  COMPREPLY=($(compgen -f -- "$1"))
}

_kwh_builtin_profiles="acrel-ddsy1352 acrel-dtsy1352 acrel-dtsy1352-dlt645 acrel-adf400l-1p acrel-adf400l-3p eastron-sdm630 eastron-sdm120 generic-water"

# Completes the value of option $2 of command path $1, for the word $3.
_kwh_value() {
  local path=$1 opt=$2 cur=$3 words=""
  case $opt in
    --format) words="table json csv xlsx" ;;
    --kind)
      if [[ $path == log ]]; then
        words="low_balance emergency_credit arrears relay_off relay_on payment cutoff_warning meter_offline reading_held"
      else words="electricity water"; fi ;;
    --state) words="pending sent failed" ;;
    --relay-mode) words="auto protect off" ;;
    --rts) words="up down" ;;
    --protocol) words="modbus dlt645" ;;
    --status)
      if [[ $path == meter* ]]; then words="online offline unknown"; else words="ok alarm1 alarm2 emergency arrears closed"; fi ;;
    --method) words="cash card transfer online" ;;
    --every) words="week month" ;;
    --role) words="admin cashier viewer" ;;
    --by) words="day month year operator account meter building" ;;
    --parity) words="N E O" ;;
    --stop-bits) words="1 2" ;;
    --unit) [[ $path == tariff* ]] && words="kWh m3" ;;
    --gateway) words=$(_kwh_ids gateway) ;;
    --meter) words=$(_kwh_ids meter) ;;
    --account) words=$(_kwh_ids account) ;;
    --tariff) words=$(_kwh_ids tariff) ;;
    --profile)
      if [[ $cur == */* || $cur == .* ]]; then _kwh_files "$cur"; return; fi
      words=$_kwh_builtin_profiles ;;
    --rtu) COMPREPLY=($(compgen -G "${cur:-/dev/tty}*" 2>/dev/null)); return ;;
    --receipt | --receipts) _kwh_files "$cur"; COMPREPLY+=($(compgen -W "-" -- "$cur")); return ;;
    --db | --config | --file | --output) _kwh_files "$cur"; return ;;
    *) COMPREPLY=(); return ;; # free text: a name, an amount, a time
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}

# Completes positional argument number $2 (0 = first) of command path $1, for the word $3.
_kwh_argument() {
  local path=$1 n=$2 cur=$3 words=""
  case $path in
    "gateway show" | "gateway remove" | "gateway retire" | "gateway test") words=$(_kwh_ids gateway) ;;
    "meter show" | "meter read" | "meter set" | "meter remove" | "meter replace" | "reading list")
      words=$(_kwh_ids meter) ;;
    "relay "* | "meter sync-time") words="- $(_kwh_ids meter)" ;;
    "account show" | "account close" | "account link" | "account credit") words=$(_kwh_ids account) ;;
    "account debt add" | "account debt list") ((n == 0)) && words=$(_kwh_ids account) ;;
    "account attach" | "account detach")
      if ((n == 0)); then words=$(_kwh_ids account); else words=$(_kwh_ids meter); fi ;;
    sell | refund) ((n == 0)) && words=$(_kwh_ids account) ;;
    "tariff show") words=$(_kwh_ids tariff) ;;
    "tariff issue") if ((n == 0)); then words=$(_kwh_ids tariff); else words="- $(_kwh_ids meter)"; fi ;;
    "operator remove") words=$(_kwh_ids operator) ;;
    "reading import" | "gateway import" | "meter import" | "account import")
      _kwh_files "$cur"; COMPREPLY+=($(compgen -W "-" -- "$cur")); return ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}

_kwh() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev="" path="" npos=0 i w opt
  local -a _kwh_cmd=("${COMP_WORDS[0]}")
  COMPREPLY=()

  # Walk the words before the cursor: find the command path, count positional arguments, and
  # keep --db/--config so that ids come from the database the command will use.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    if [[ $w == -* ]]; then
      opt=${w%%=*}
      if [[ $w != *=* ]] && _kwh_takes_value "$path" "$opt"; then
        # "--opt value", or "--opt = value" when bash splits at "=".
        ((i + 1 < COMP_CWORD)) && [[ ${COMP_WORDS[i + 1]} == "=" ]] && ((i++))
        if ((i + 1 < COMP_CWORD)); then
          [[ $opt == --db || $opt == --config ]] && _kwh_cmd+=("$opt" "${COMP_WORDS[i + 1]}")
          ((i++))
        fi
      elif [[ $w == --db=* || $w == --config=* ]]; then
        _kwh_cmd+=("$w")
      fi
    elif ((npos == 0)) && [[ " $(_kwh_words "$path") " == *" $w "* ]]; then
      path=${path:+$path }$w
    else
      ((npos++))
    fi
  done

  # The value of an option: "--opt VALUE", "--opt=VALUE" (bash may split it at "=").
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  if [[ $cur == --*=* ]]; then
    # One word (COMP_WORDBREAKS without "="): the replacement keeps the option.
    _kwh_value "$path" "${cur%%=*}" "${cur#*=}"
    COMPREPLY=("${COMPREPLY[@]/#/${cur%%=*}=}")
    return 0
  fi
  if [[ $cur == "=" ]] && _kwh_takes_value "$path" "$prev"; then
    _kwh_value "$path" "$prev" ""
    return 0
  fi
  if [[ $prev == "=" ]] && ((COMP_CWORD > 1)); then
    _kwh_value "$path" "${COMP_WORDS[COMP_CWORD - 2]}" "$cur"
    return 0
  fi
  if [[ $prev == -* ]] && _kwh_takes_value "$path" "$prev"; then
    _kwh_value "$path" "$prev" "$cur"
    return 0
  fi

  if [[ $cur == -* ]]; then
    local options
    options="$(_kwh_options "$path") $_kwh_global_options"
    COMPREPLY=($(compgen -W "${options//=/}" -- "$cur"))
    return 0
  fi

  local words
  words=$(_kwh_words "$path")
  if [[ -n $words ]] && ((npos == 0)); then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  else
    _kwh_argument "$path" "$npos" "$cur"
  fi
  return 0
}

# kwhd(8) takes a few options only; the bash-completion package finds this file for it too
# when it is installed (or linked) as .../completions/kwhd.
_kwhd() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=""
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()
  case $prev in
    --db | --config) _kwh_files "$cur"; return 0 ;;
  esac
  COMPREPLY=($(compgen -W "--db --config --once --check-config --help --version" -- "$cur"))
}

complete -F _kwh kwh
complete -F _kwhd kwhd
