# bash completion for tcmtrace and tcmtraced (installed as
# share/bash-completion/completions/tcmtrace and .../tcmtraced)

_tcmtrace() {
    local cur prev cmd i
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local globals="--dir --connect --key --passphrase-file --log-key --json --timeout --help --version"
    local commands="key actor herbs limits witnesses register transfer receive reject cancel split process
        inspect hold release recall sell buyer-check destroy show stock search trace log export
        checkpoint proof verify audit rebuild backup tiles label scan agent status watch api"
    case $prev in
    --dir|--key|--passphrase-file|--log-key|--out|--report|--doc|--pubkey|--new-key|--herbs|--limits)
        COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --format)
        COMPREPLY=($(compgen -W "png svg term epcis csv json" -- "$cur")); return ;;
    --role)
        COMPREPLY=($(compgen -W "grower trader processor inspector regulator pharmacy authority" -- "$cur")); return ;;
    --state)
        COMPREPLY=($(compgen -W "active in_transit held recalled depleted destroyed" -- "$cur")); return ;;
    --form)
        COMPREPLY=($(compgen -W "药材 饮片" -- "$cur")); return ;;
    esac
    cmd=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        --dir|--connect|--key|--passphrase-file|--log-key|--timeout) ((i++)) ;;
        -*) ;;
        *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands $globals" -- "$cur")); return
    fi
    local opts=
    case $cmd in
    key) opts="new show --unsealed --open" ;;
    actor) opts="enroll revoke rotate show list --id --name --org --licence --role --pubkey --stall --reason --new-key" ;;
    herbs|limits) opts="publish" ;;
    witnesses) opts="show publish" ;;
    tiles) opts="export" ;;
    agent) opts="start stop status add remove --ttl" ;;
    register) opts="--herb --latin --part --qty --province --city --county --base --lat --lon --daodi --harvest --grade --processing --category --form --doc --id --unlisted --gtin" ;;
    transfer) opts="--to --qty --note" ;;
    reject|hold|release|recall) opts="--reason" ;;
    split) opts="--into" ;;
    process) opts="--in --out-qty --method --form --name --grade --compound --compound-latin --gtin" ;;
    inspect) opts="--lab --result --report --report-sha256 --standard" ;;
    sell) opts="--qty --buyer" ;;
    buyer-check) opts="--salt --buyer" ;;
    destroy) opts="--reason --method" ;;
    stock) opts="--all" ;;
    search) opts="--herb --origin --holder --state --harvest-from --harvest-to --limit" ;;
    trace) opts="--up --down --depth --brief" ;;
    log) opts="--from --limit" ;;
    export) opts="--format --from --to" ;;
    label) opts="--format --out --all-children --width-mm --height-mm --dpi --base-url --digital-link --force" ;;
    scan) opts="--anonymous"; COMPREPLY=($(compgen -f -- "$cur")) ;;
    audit|rebuild|backup) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    watch) opts="--count" ;;
    esac
    COMPREPLY+=($(compgen -W "$opts --help" -- "$cur"))
}
complete -F _tcmtrace tcmtrace

_tcmtraced() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
    --authority-key|--limits|--herbs|--passphrase-file|--log-passphrase-file|--config)
        COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    if ((COMP_CWORD == 1)); then
        COMPREPLY=($(compgen -W "init run follow promote --help --version" -- "$cur")); return
    fi
    case ${COMP_WORDS[1]} in
    follow) COMPREPLY=($(compgen -W "--log-key --interval --once --quiet" -- "$cur")) ;;
    promote) COMPREPLY=($(compgen -W "--log-key-file --log-passphrase-file" -- "$cur")) ;;
    init) COMPREPLY=($(compgen -W "--origin --market --authority-key --authority-id --authority-name --base-url --limits --herbs --passphrase-file --log-passphrase-file --unsealed-log-key" -- "$cur")) ;;
    *) COMPREPLY=($(compgen -W "--tcp --threads --read-threads --batch-max --log-passphrase-file --config --quiet" -- "$cur")) ;;
    esac
    [[ $cur == -* ]] || COMPREPLY+=($(compgen -d -- "$cur"))
}
complete -F _tcmtraced tcmtraced
