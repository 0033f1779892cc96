# fish completion for kwh(1).
#
# Installed as /usr/share/fish/vendor_completions.d/kwh.fish. Written from the command line of
# kwh(1) and kwh-*(1); tests/e2e/ship_completions.sh checks it against `kwh --help` so that the
# two cannot drift. Ids (meters, accounts, gateways, tariffs, operators) come from
# `kwh ... list -q` on the database named on the command line, if any.

# The words that may follow a command path: subcommands, relay actions, report names.
function __kwh_words
    switch "$argv[1]"
        case ''
            echo init gateway meter tariff account sell refund relay reading report operator log check sim serve hub
        case gateway
            echo add import list show remove retire test
        case meter
            echo add import list show read set replace remove sync-time
        case tariff
            echo add list show issue
        case account
            echo open import list show attach detach close credit debt link
        case 'account debt'
            echo add list
        case relay
            echo on off auto protect
        case reading
            echo import list accept reject prune
        case report
            echo sales energy balances alarms offline gateways readings reconcile statement debts emergency
        case operator
            echo add list remove
        case hub
            echo init status sell report check reset-epoch
        case "hub report"
            echo sales balances energy
    end
end

# Options that take a value, whatever the command (their values are never subcommands).
set -g __kwh_value_options --url --note --recover --fixed --every --db --config --format --tcp --rtu-over-tcp --rtu --dlt645-tcp --dlt645 --rts \
    --rts-delay-us --password --operator-code --address --device --baud --parity \
    --stop-bits --timeout-ms --gap-ms --gateway --unit --profile --kind --building --room \
    --relay-mode --overload-w --status --flat --file --name --tariff --meter --alarm1 --alarm2 \
    --credit-limit --phone --language --opened --time --effective --ref --method --receipt --receipts --account --wait --from --to --by \
    --output --role --since --expect-head --meters --gateways --listen --speed --load-w --faults \
    --seed --ttl --base-url --protocol --clock-drift --site --operator

# Prints the command path of the command line (e.g. "meter add"), then the number of
# positional arguments after it.
function __kwh_path
    set -l tokens (commandline -opc)
    set -l path
    set -l npos 0
    set -l skip 0
    for w in $tokens[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case '--*=*'
            case '-*'
                contains -- $w $__kwh_value_options; and set skip 1
            case '*'
                if test $npos = 0; and contains -- $w (string split ' ' (__kwh_words "$path"))
                    set path $path $w
                else
                    set npos (math $npos + 1)
                end
        end
    end
    echo "$path"
    echo $npos
end

# True when the command path is one of the arguments.
function __kwh_at
    set -l p (__kwh_path)
    contains -- "$p[1]" $argv
end

# True when the command path is one of the arguments and the positional argument is number
# $argv[1] (0 = first).
function __kwh_arg
    set -l p (__kwh_path)
    test "$p[2]" = "$argv[1]"; and contains -- "$p[1]" $argv[2..-1]
end

# True when the path starts with the word given (relay on|off|..., report NAME).
function __kwh_under
    set -l p (__kwh_path)
    string match -q -- "$argv[1] *" "$p[1]"
end

# Ids from the database named on the command line (--db, --config), or nothing.
function __kwh_ids
    set -l tokens (commandline -opc)
    set -l cmd $tokens[1]
    set -l i 2
    while test $i -le (count $tokens)
        switch $tokens[$i]
            case --db --config
                set -l j (math $i + 1)
                test $j -le (count $tokens); and set cmd $cmd $tokens[$i] $tokens[$j]
            case '--db=*' '--config=*'
                set cmd $cmd $tokens[$i]
        end
        set i (math $i + 1)
    end
    command -q $cmd[1]; or return 0
    $cmd $argv[1] list -q 2>/dev/null
end

complete -c kwh -f

# Global options (before or after the command).
complete -c kwh -l db -r -F -d 'SQLite database (default: $KWH_DB, config, /var/lib/kwh/kwh.db)'
complete -c kwh -l config -r -F -d 'configuration file (default: $KWH_CONFIG, /etc/kwh/kwh.toml)'
complete -c kwh -l format -x -a 'table json csv xlsx' -d 'output format'
complete -c kwh -l json -d 'same as --format json'
complete -c kwh -s q -l quiet -d 'ids only, one a line, for pipes'
complete -c kwh -l yes -d 'no confirmation for batch actions'
complete -c kwh -s h -l help -d 'print help and exit'
complete -c kwh -l version -d 'print the version and exit'

# Commands.
complete -c kwh -n '__kwh_at ""' -a init -d 'create or migrate the database'
complete -c kwh -n '__kwh_at ""' -a gateway -d 'manage gateways, the paths to buses of meters'
complete -c kwh -n '__kwh_at ""' -a meter -d 'manage meters and read them'
complete -c kwh -n '__kwh_at ""' -a tariff -d 'manage tariffs and their versions'
complete -c kwh -n '__kwh_at ""' -a account -d 'open, show and close accounts'
complete -c kwh -n '__kwh_at ""' -a sell -d 'sell credit to an account'
complete -c kwh -n '__kwh_at ""' -a refund -d 'refund credit from an account'
complete -c kwh -n '__kwh_at ""' -a relay -d 'switch relays, or set their mode'
complete -c kwh -n '__kwh_at ""' -a reading -d 'import, list, accept and reject readings'
complete -c kwh -n '__kwh_at ""' -a report -d 'print a report'
complete -c kwh -n '__kwh_at ""' -a operator -d 'manage operators and their roles'
complete -c kwh -n '__kwh_at ""' -a log -d 'show and verify the audit log'
complete -c kwh -n '__kwh_at ""' -a check -d 'verify the database'
complete -c kwh -n '__kwh_at ""' -a sim -d 'serve simulated meters over Modbus TCP or DL/T 645'
complete -c kwh -n '__kwh_at ""' -a serve -d 'serve tenant pages and payment webhooks over HTTP'

# kwh gateway
complete -c kwh -n '__kwh_at gateway' -a add -d 'add a gateway'
complete -c kwh -n '__kwh_at gateway' -a list -d 'list gateways'
complete -c kwh -n '__kwh_at gateway' -a show -d 'show one gateway'
complete -c kwh -n '__kwh_at gateway' -a remove -d 'remove a gateway that has no meters'
complete -c kwh -n '__kwh_at gateway' -a test -d 'check that a gateway and its meters answer'
complete -c kwh -n '__kwh_at gateway' -a retire -d 'take a gateway with history out of service'
complete -c kwh -n '__kwh_at gateway' -a import -d 'add gateways from a CSV sheet'
complete -c kwh -n '__kwh_at "gateway list"' -l all -d 'retired gateways too'
complete -c kwh -n '__kwh_at "gateway add"' -l tcp -x -d 'Modbus TCP gateway HOST:PORT'
complete -c kwh -n '__kwh_at "gateway add"' -l rtu-over-tcp -x -d 'Modbus RTU over a raw TCP socket HOST:PORT'
complete -c kwh -n '__kwh_at "gateway add"' -l rtu -r -a '(__fish_complete_path /dev/tty)' -d 'Modbus RTU on a serial port'
complete -c kwh -n '__kwh_at "gateway add"' -l dlt645-tcp -x -d 'DL/T 645 meters behind a serial server HOST:PORT'
complete -c kwh -n '__kwh_at "gateway add"' -l dlt645 -r -a '(__fish_complete_path /dev/tty)' -d 'DL/T 645 meters on a serial port'
complete -c kwh -n '__kwh_at "gateway add"' -l rts -x -a 'up down' -d 'RS-485 direction by RTS'
complete -c kwh -n '__kwh_at "gateway add"' -l rts-delay-us -x -d 'RTS delay in microseconds'
complete -c kwh -n '__kwh_at "gateway add"' -l password -x -d 'DL/T 645 password, 8 hex digits'
complete -c kwh -n '__kwh_at "gateway add"' -l operator-code -x -d 'DL/T 645 operator code, 8 hex digits'
complete -c kwh -n '__kwh_at "gateway add"' -l baud -x -a '9600 19200 38400 115200 4800 2400' -d 'serial speed'
complete -c kwh -n '__kwh_at "gateway add"' -l parity -x -a 'N E O' -d 'serial parity'
complete -c kwh -n '__kwh_at "gateway add"' -l stop-bits -x -a '1 2' -d 'serial stop bits'
complete -c kwh -n '__kwh_at "gateway add"' -l timeout-ms -x -d 'response timeout in ms'
complete -c kwh -n '__kwh_at "gateway add"' -l gap-ms -x -d 'silence between requests in ms'
complete -c kwh -n '__kwh_at "gateway show" "gateway remove" "gateway retire" "gateway test"' -a '(__kwh_ids gateway)'

# kwh meter
complete -c kwh -n '__kwh_at meter' -a add -d 'add a meter'
complete -c kwh -n '__kwh_at meter' -a list -d 'list meters'
complete -c kwh -n '__kwh_at meter' -a show -d 'show one meter and its last reading'
complete -c kwh -n '__kwh_at meter' -a read -d 'print the last reading, or read it now'
complete -c kwh -n '__kwh_at meter' -a set -d 'change a meter'
complete -c kwh -n '__kwh_at meter' -a replace -d "move a meter's account to a new meter"
complete -c kwh -n '__kwh_at meter' -a remove -d 'remove a meter'
complete -c kwh -n '__kwh_at meter' -a sync-time -d "set meters' clocks to kwh's (queued for kwhd)"
complete -c kwh -n '__kwh_at meter' -a import -d 'add meters from a CSV sheet'
complete -c kwh -n '__kwh_at "meter add" "meter set" "meter list"' -l gateway -x -a '(__kwh_ids gateway)' -d 'the gateway'
complete -c kwh -n '__kwh_at "meter add" "meter set"' -l unit -x -d 'unit address 1..247'
complete -c kwh -n '__kwh_at "meter add" "meter set"' -l address -x -d 'DL/T 645 address, 12 digits'
complete -c kwh -n '__kwh_at "meter add" "meter set"' -l device -x -d 'the multi-user meter it is a circuit of'
complete -c kwh -n '__kwh_at "meter set"' -l no-device -d 'no longer a circuit of a device'
complete -c kwh -n '__kwh_at "meter add" "meter set"' -l profile -r -a 'acrel-ddsy1352 acrel-dtsy1352 acrel-dtsy1352-dlt645 acrel-adf400l-1p acrel-adf400l-3p eastron-sdm630 eastron-sdm120 generic-water' -d 'profile name or FILE.toml'
complete -c kwh -n '__kwh_at "meter add" "meter set"' -l kind -x -a 'electricity water' -d 'what it measures'
complete -c kwh -n '__kwh_at "meter add" "meter set" "meter list" "meter sync-time"' -l building -x -d 'building'
complete -c kwh -n '__kwh_at "meter add" "meter set"' -l room -x -d 'room or shop'
complete -c kwh -n '__kwh_at "meter add" "meter set"' -l relay-mode -x -a 'auto protect off' -d 'relay mode'
complete -c kwh -n '__kwh_at "meter add" "meter set"' -l overload-w -x -d 'overload threshold in W'
complete -c kwh -n '__kwh_at "meter set"' -l alarm1 -x -d "the meter's own first balance alarm"
complete -c kwh -n '__kwh_at "meter set"' -l alarm2 -x -d "the meter's own second balance alarm"
complete -c kwh -n '__kwh_at "meter set"' -l wait -x -d 'wait until kwhd has written the settings'
complete -c kwh -n '__kwh_at "meter list"' -l status -x -a 'online offline unknown' -d 'only this status'
complete -c kwh -n '__kwh_at "meter read"' -l direct -d 'read the meter now'
complete -c kwh -n '__kwh_at "meter replace"' -l time -r -d 'when the swap happened'
complete -c kwh -n '__kwh_at "meter sync-time"' -l all -d 'every meter whose profile names a clock'
complete -c kwh -n '__kwh_at "meter sync-time"' -l wait -x -d 'wait until kwhd has set the clocks'
complete -c kwh -n '__kwh_at "meter sync-time"' -a '- (__kwh_ids meter)'
complete -c kwh -n '__kwh_at "meter show" "meter read" "meter set" "meter remove" "meter replace"' -a '(__kwh_ids meter)'

# kwh tariff
complete -c kwh -n '__kwh_at tariff' -a add -d 'add a tariff or a new version'
complete -c kwh -n '__kwh_at tariff' -a list -d 'list tariffs'
complete -c kwh -n '__kwh_at tariff' -a show -d 'show a tariff and its versions'
complete -c kwh -n '__kwh_at "tariff add"' -l flat -x -d 'one price per kWh'
complete -c kwh -n '__kwh_at "tariff add"' -l file -r -F -d 'tariff file (kwh-tariff(5))'
complete -c kwh -n '__kwh_at "tariff add"' -l effective -x -d 'with --flat: the date it starts'
complete -c kwh -n '__kwh_at "tariff add"' -l unit -x -a 'kWh m3' -d 'with --flat: per kWh or m3'
complete -c kwh -n '__kwh_at "tariff show"' -a '(__kwh_ids tariff)'
complete -c kwh -n '__kwh_at tariff' -a issue -d 'write a tariff to meters (queued for kwhd)'
complete -c kwh -n '__kwh_at "tariff issue"' -l building -x -d 'the meters in this building'
complete -c kwh -n '__kwh_at "tariff issue"' -l all -d 'every meter whose profile keeps a tariff'
complete -c kwh -n '__kwh_at "tariff issue"' -l wait -x -d 'wait until kwhd has written them'
complete -c kwh -n '__kwh_at "tariff issue"' -a '- (__kwh_ids tariff) (__kwh_ids meter)'

# kwh account
complete -c kwh -n '__kwh_at account' -a open -d 'open an account'
complete -c kwh -n '__kwh_at account' -a list -d 'list accounts'
complete -c kwh -n '__kwh_at account' -a show -d 'show one account'
complete -c kwh -n '__kwh_at account' -a attach -d 'attach a meter'
complete -c kwh -n '__kwh_at account' -a detach -d 'detach a meter'
complete -c kwh -n '__kwh_at account' -a close -d 'close an account'
complete -c kwh -n '__kwh_at account' -a credit -d 'grant emergency credit'
complete -c kwh -n '__kwh_at account' -a link -d "print a tenant's login link, or revoke them all"
complete -c kwh -n '__kwh_at account' -a import -d 'open accounts from a CSV sheet'
complete -c kwh -n '__kwh_at "account open"' -l name -x -d "the customer's name"
complete -c kwh -n '__kwh_at "account open"' -l tariff -x -a '(__kwh_ids tariff)' -d 'the tariff'
complete -c kwh -n '__kwh_at "account open"' -l meter -x -a '(__kwh_ids meter)' -d 'a meter to attach'
complete -c kwh -n '__kwh_at "account open"' -l alarm1 -x -d 'balance alarm level 1'
complete -c kwh -n '__kwh_at "account open"' -l alarm2 -x -d 'balance alarm level 2'
complete -c kwh -n '__kwh_at "account open"' -l credit-limit -x -d 'how far below zero before arrears'
complete -c kwh -n '__kwh_at "account open"' -l phone -x -d 'phone number for reminders'
complete -c kwh -n '__kwh_at "account open"' -l language -x -a 'en zh' -d 'language for messages'
complete -c kwh -n '__kwh_at "account open"' -l opened -x -d 'start the account in the past'
complete -c kwh -n '__kwh_at "account open"' -l emergency-credit -x -d 'emergency credit it may take'
complete -c kwh -n '__kwh_at "account list"' -l status -x -a 'ok alarm1 alarm2 emergency arrears closed' -d 'only this status'
complete -c kwh -n '__kwh_at "account attach" "account detach"' -l time -x -d 'when (default now)'
complete -c kwh -n '__kwh_at "account close"' -l refund -d 'refund the remaining balance'
complete -c kwh -n '__kwh_at "account link"' -l ttl -x -d 'how long the link is valid (5m .. 30d)'
complete -c kwh -n '__kwh_at "account link"' -l revoke -d "end the account's links and sessions"
complete -c kwh -n '__kwh_at "account link"' -l json -d 'the link as JSON'
complete -c kwh -n '__kwh_arg 0 "account show" "account close" "account link" "account credit" "account attach" "account detach" sell refund' -a '(__kwh_ids account)'
complete -c kwh -n '__kwh_arg 1 "account attach" "account detach"' -a '(__kwh_ids meter)'

# kwh gateway import, kwh meter import, kwh account import
complete -c kwh -n '__kwh_at "gateway import" "meter import" "account import"' -F -a '-'
complete -c kwh -n '__kwh_at "gateway import" "meter import" "account import"' -l dry-run -d 'check every row; write nothing'
complete -c kwh -n '__kwh_at "gateway import" "meter import" "account import"' -l update -d 'rows that differ change what is stored'
complete -c kwh -n '__kwh_at "account import"' -l receipts -r -F -a '-' -d 'receipts of the opening balances to FILE or -'

# kwh sell, kwh refund
complete -c kwh -n '__kwh_at sell refund' -l ref -x -d 'idempotency key'
complete -c kwh -n '__kwh_at sell' -l method -x -a 'cash card transfer online' -d 'how the customer paid'
complete -c kwh -n '__kwh_at sell refund' -l receipt -r -F -a '-' -d 'write the receipt to FILE or -'

# kwh relay
complete -c kwh -n '__kwh_at relay' -a on -d 'close the relays (power on)'
complete -c kwh -n '__kwh_at relay' -a off -d 'open the relays (power off)'
complete -c kwh -n '__kwh_at relay' -a auto -d 'prepaid relay mode'
complete -c kwh -n '__kwh_at relay' -a protect -d 'never opened automatically'
complete -c kwh -n '__kwh_at relay; or __kwh_under relay' -l account -x -a '(__kwh_ids account)' -d 'the meters of this account'
complete -c kwh -n '__kwh_at relay; or __kwh_under relay' -l building -x -d 'the meters in this building'
complete -c kwh -n '__kwh_at relay; or __kwh_under relay' -l all -d 'every meter (with --yes)'
complete -c kwh -n '__kwh_at relay; or __kwh_under relay' -l wait -x -d 'wait SECONDS for kwhd'
complete -c kwh -n '__kwh_at relay; or __kwh_under relay' -l direct -d 'switch now over the gateway'
complete -c kwh -n '__kwh_under relay' -a '- (__kwh_ids meter)'

# kwh reading
complete -c kwh -n '__kwh_at reading' -a import -d 'import readings from CSV'
complete -c kwh -n '__kwh_at reading' -a list -d "list a meter's readings"
complete -c kwh -n '__kwh_at reading' -a accept -d 'bill a held reading'
complete -c kwh -n '__kwh_at reading' -a reject -d 'drop a held reading'
complete -c kwh -n '__kwh_at reading' -a prune -d 'apply [retention] now'
complete -c kwh -n '__kwh_at "reading import"' -F -a '-'
complete -c kwh -n '__kwh_at "reading list"' -a '(__kwh_ids meter)'
complete -c kwh -n '__kwh_at "reading list"' -l from -x -d 'from this time'
complete -c kwh -n '__kwh_at "reading list"' -l to -x -d 'before this time'
complete -c kwh -n '__kwh_at "reading list"' -l held -d 'held (implausible) readings, with their ids'
complete -c kwh -n '__kwh_at "reading prune"' -l dry-run -d 'count what would go; write nothing'

# kwh report
complete -c kwh -n '__kwh_at report' -a sales -d 'money taken in'
complete -c kwh -n '__kwh_at report' -a energy -d 'consumption and its cost'
complete -c kwh -n '__kwh_at report' -a balances -d 'every account and its balance'
complete -c kwh -n '__kwh_at report' -a alarms -d 'balance alarms and other events'
complete -c kwh -n '__kwh_at report' -a offline -d 'meters and gateways offline now'
complete -c kwh -n '__kwh_at report' -a gateways -d 'gateways and their health'
complete -c kwh -n '__kwh_at report' -a readings -d 'latest readings (--raw: every reading)'
complete -c kwh -n '__kwh_at report' -a reconcile -d 'the cash-up, checked against the ledger'
complete -c kwh -n '__kwh_at report' -a statement -d "an account's statement"
complete -c kwh -n '__kwh_at report' -a debts -d 'debts and how they are recovered'
complete -c kwh -n '__kwh_at report' -a emergency -d 'accounts on emergency credit'
complete -c kwh -n '__kwh_at account' -a debt -d "list an account's debts, or record one"
complete -c kwh -n '__kwh_at "account debt"' -a add -d 'record a debt'
complete -c kwh -n '__kwh_at "account debt"' -a list -d 'list debts'
complete -c kwh -n '__kwh_at "account debt list"' -l all -d 'also debts already recovered'
complete -c kwh -n '__kwh_at "account debt add"' -l note -x -d 'what it is for'
complete -c kwh -n '__kwh_at "account debt add"' -l recover -x -d 'the share of every sale, e.g. 25%'
complete -c kwh -n '__kwh_at "account debt add"' -l fixed -x -d 'an amount every week or month'
complete -c kwh -n '__kwh_at "account debt add"' -l every -x -a 'week month' -d 'with --fixed'
complete -c kwh -n '__kwh_arg 0 "account debt add" "account debt list"' -a '(__kwh_ids account)'
complete -c kwh -n '__kwh_at report; or __kwh_under report' -l from -x -d 'first site-local date'
complete -c kwh -n '__kwh_at report; or __kwh_under report' -l to -x -d 'last site-local date'
complete -c kwh -n '__kwh_at report; or __kwh_under report' -l by -x -a 'day month year operator account meter building' -d 'group by'
complete -c kwh -n '__kwh_at report; or __kwh_under report' -l account -x -a '(__kwh_ids account)' -d 'one account'
complete -c kwh -n '__kwh_at report; or __kwh_under report' -l meter -x -a '(__kwh_ids meter)' -d 'one meter (readings --raw)'
complete -c kwh -n '__kwh_at report; or __kwh_under report' -l active -d 'alarms still in force'
complete -c kwh -n '__kwh_at report; or __kwh_under report' -l raw -d 'every raw reading (readings)'
complete -c kwh -n '__kwh_at report; or __kwh_under report' -l output -r -F -d 'write to FILE'

# kwh operator
complete -c kwh -n '__kwh_at operator' -a add -d 'add an operator with a role'
complete -c kwh -n '__kwh_at operator' -a list -d 'list operators'
complete -c kwh -n '__kwh_at operator' -a remove -d 'remove an operator'
complete -c kwh -n '__kwh_at "operator add"' -l role -x -a 'admin cashier viewer' -d 'the role'
complete -c kwh -n '__kwh_at "operator remove"' -a '(__kwh_ids operator)'

# kwh log
complete -c kwh -n '__kwh_at log' -l since -x -d 'entries from this time on'
complete -c kwh -n '__kwh_at log' -l verify -d 'check the hash chain'
complete -c kwh -n '__kwh_at log' -l head -d 'print the newest entry and its hash'
complete -c kwh -n '__kwh_at log' -l expect-head -x -d 'with --verify: a hash from --head'
complete -c kwh -n '__kwh_at log' -l hooks -d "list kwhd's hook deliveries"
complete -c kwh -n '__kwh_at log' -l kind -x -a 'low_balance emergency_credit arrears relay_off relay_on payment cutoff_warning meter_offline reading_held' -d 'with --hooks: this kind'
complete -c kwh -n '__kwh_at log' -l state -x -a 'pending sent failed' -d 'with --hooks: this state'
complete -c kwh -n '__kwh_at log' -l account -x -d 'with --hooks: this account'

# kwh sim
complete -c kwh -n '__kwh_at sim' -l meters -x -d 'meters per gateway'
complete -c kwh -n '__kwh_at sim' -l gateways -x -d 'gateways on consecutive ports'
complete -c kwh -n '__kwh_at sim' -l listen -x -d 'HOST:PORT to listen on'
complete -c kwh -n '__kwh_at sim' -l profile -r -a 'acrel-ddsy1352 acrel-dtsy1352 acrel-dtsy1352-dlt645 acrel-adf400l-1p acrel-adf400l-3p eastron-sdm630 eastron-sdm120 generic-water' -d 'register map'
complete -c kwh -n '__kwh_at sim' -l protocol -x -a 'modbus dlt645' -d 'Modbus TCP, or DL/T 645 meters behind a serial server'
complete -c kwh -n '__kwh_at sim' -l password -x -d 'DL/T 645 relay control password, 8 hex digits'
complete -c kwh -n '__kwh_at sim' -l speed -x -d 'times faster than real time'
complete -c kwh -n '__kwh_at sim' -l load-w -x -d 'load per meter in W'
complete -c kwh -n '__kwh_at sim' -l faults -x -d 'faults to inject: drop=P,delay=D,...'
complete -c kwh -n '__kwh_at sim' -l rtu-over-tcp -d 'frame as Modbus RTU on the TCP ports'
complete -c kwh -n '__kwh_at sim' -l seed -x -d 'seed of the random faults'
complete -c kwh -n '__kwh_at sim' -l clock-drift -x -d "seconds the meters' clocks are off"


# kwh serve
complete -c kwh -n '__kwh_at serve' -l listen -x -d 'HOST:PORT to listen on (default 127.0.0.1:8080)'
complete -c kwh -n '__kwh_at serve' -l base-url -x -d 'public URL, e.g. https://pay.example.com'
complete -c kwh -n '__kwh_at serve' -l insecure-cookies -d 'plain-HTTP cookies, for trials on loopback'

# kwh hub
complete -c kwh -n '__kwh_at ""' -a hub -d "the office's hub: make its schema, show this site's pushes"
complete -c kwh -n '__kwh_at hub' -a init -d "create or migrate the hub's schema"
complete -c kwh -n '__kwh_at hub' -a status -d "this site's pushes to the hub"
complete -c kwh -n '__kwh_at hub' -a reset-epoch -d 'start a new epoch after a restore, the old rows kept apart at the hub'
complete -c kwh -n '__kwh_at "hub init"' -l url -x -d "the hub's PostgreSQL (default [hub] url)"
complete -c kwh -n '__kwh_at hub' -a sell -d 'sell a top-up at the office for a site to apply'
complete -c kwh -n '__kwh_at hub' -a report -d 'sales, balances or energy from the hub'
complete -c kwh -n '__kwh_at hub' -a check -d "prove the hub's copy of sites"
complete -c kwh -n '__kwh_at "hub sell"' -l ref -x -d 'idempotency key, unique per site'
complete -c kwh -n '__kwh_at "hub sell"' -l method -x -a 'cash card transfer online' -d 'payment method'
complete -c kwh -n '__kwh_at "hub sell"' -l wait -x -d "seconds to wait for the site's receipt"
complete -c kwh -n '__kwh_at "hub sell"' -l operator -x -d 'who sold it (default: the PostgreSQL user)'
complete -c kwh -n '__kwh_at "hub sell"' -l url -x -d "the hub's PostgreSQL"
complete -c kwh -n '__kwh_at "hub report"' -a 'sales balances energy' -d 'report'
complete -c kwh -n '__kwh_at "hub report"' -l site -x -d 'one site'
complete -c kwh -n '__kwh_at "hub report"' -l all -d 'every site'
complete -c kwh -n '__kwh_at "hub report"' -l from -x -d 'first date'
complete -c kwh -n '__kwh_at "hub report"' -l to -x -d 'last date'
complete -c kwh -n '__kwh_at "hub report"' -l by -x -a 'day month year operator account meter' -d 'group by'
complete -c kwh -n '__kwh_at "hub report"' -l url -x -d "the hub's PostgreSQL"
complete -c kwh -n '__kwh_at "hub check"' -l site -x -d 'one site'
complete -c kwh -n '__kwh_at "hub check"' -l all -d 'every site'
complete -c kwh -n '__kwh_at "hub check"' -l url -x -d "the hub's PostgreSQL"
