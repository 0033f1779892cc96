# fish completion for kwhd(8), installed as /usr/share/fish/vendor_completions.d/kwhd.fish.
complete -c kwhd -f
complete -c kwhd -l db -r -F -d 'SQLite database'
complete -c kwhd -l config -r -F -d 'configuration file'
complete -c kwhd -l once -d 'poll once, bill, carry out commands, exit'
complete -c kwhd -l check-config -d 'check the configuration and exit'
complete -c kwhd -s h -l help -d 'print help and exit'
complete -c kwhd -l version -d 'print the version and exit'
