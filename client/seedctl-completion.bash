# SPDX-License-Identifier: MIT
# bash completion for seedctl: its commands, their options and the values
# those take. Installed as "seedctl" in bash-completion's completions
# directory, which loads it on the first <TAB> after "seedctl".

_seedctl_files()
{
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen "$1" -- "$2")
}

_seedctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local global="--socket --help --version" commands="status get provision check wait help"
	local cmd="" opts="" i

	# The command: the first word that is neither an option nor --socket's value.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--socket | -s) ((i++)) ;;
		-*) ;;
		*)
			cmd=${COMP_WORDS[i]}
			break
			;;
		esac
	done

	case $prev in
	--socket | -s | --key-file | --manifest)
		_seedctl_files -f "$cur"
		return
		;;
	--out-dir)
		_seedctl_files -d "$cur"
		return
		;;
	--owner)
		mapfile -t COMPREPLY < <(compgen -u -- "$cur")
		return
		;;
	--bytes)
		[[ $cmd == provision ]] && mapfile -t COMPREPLY < <(compgen -W "32 64" -- "$cur")
		return
		;;
	--count | --timeout)
		return
		;;
	esac

	case $cmd in
	"")
		[[ $cur == -* ]] && opts=$global || opts=$commands
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
		return
		;;
	status) opts="--json" ;;
	get) opts="--bytes --raw" ;;
	provision) opts="--bytes --force --stdin --key-file --count --out-dir --manifest" ;;
	check) opts="--key-file --owner" ;;
	wait) opts="--timeout" ;;
	help) ;;
	*) return ;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$opts $global" -- "$cur")
	elif [[ $cmd == help && $i -eq $((COMP_CWORD - 1)) ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
	elif [[ $cmd == provision || $cmd == check ]]; then
		_seedctl_files -f "$cur"
	fi
}

complete -F _seedctl seedctl
