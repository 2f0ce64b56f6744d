/* wfengine completion bash|zsh: shell completion scripts, printed on stdout. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: wfengine completion bash|zsh\n"
    "\n"
    "Prints a completion script for the shell: commands, options, option values (--progress,\n"
    "--format), workflow files (*.yaml, *.yml) and \"last\" for a run.\n"
    "\n"
    "Examples:\n"
    "  source <(wfengine completion bash)                 # in ~/.bashrc\n"
    "  wfengine completion zsh > \"${fpath[1]}/_wfengine\"  # then restart zsh\n";

/* The command and option lists are written once, in the bash script; the zsh script loads
 * bash's completion through bashcompinit, so both complete the same words. */
static const char bash_script[] =
    "# bash completion for wfengine (wfengine completion bash)\n"
    "_wfengine() {\n"
    "    local cur prev cmd i\n"
    "    COMPREPLY=()\n"
    "    cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
    "    prev=\"\"\n"
    "    [ \"$COMP_CWORD\" -gt 0 ] && prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
    "    local commands=\"run list validate graph runs show logs report gc completion version help\"\n"
    "    if [ \"$COMP_CWORD\" -le 1 ]; then\n"
    "        COMPREPLY=($(compgen -W \"$commands --help --version\" -- \"$cur\"))\n"
    "        return 0\n"
    "    fi\n"
    "    cmd=\"${COMP_WORDS[1]}\"\n"
    "    local file=\"\"\n"
    "    for ((i = 2; i < COMP_CWORD; i++)); do\n"
    "        case \"${COMP_WORDS[i-1]}\" in -i|--input|--inputs|-j|--jobs|--store|--resume|"
    "--only|--executor|--junit|--progress) continue ;; esac\n"
    "        [[ \"${COMP_WORDS[i]}\" != -* ]] && { file=\"${COMP_WORDS[i]}\"; break; }\n"
    "    done\n"
    "    _wfengine_tasks() {\n"
    "        [ -n \"$file\" ] || return 0\n"
    "        COMPREPLY=($(compgen -W \"$(wfengine list \"$file\" 2>/dev/null | "
    "sed -n '/^inputs:/q;/^  /s/^  \\([^ ]*\\).*/\\1/p')\" -- \"$cur\"))\n"
    "    }\n"
    "    case \"$prev\" in\n"
    "        --only) _wfengine_tasks; return 0 ;;\n"
    "        --progress) COMPREPLY=($(compgen -W \"auto tty plain none\" -- \"$cur\")); "
    "return 0 ;;\n"
    "        --format) COMPREPLY=($(compgen -W \"dot mermaid\" -- \"$cur\")); return 0 ;;\n"
    "        --executor) COMPREPLY=($(compgen -W \"local slurm\" -- \"$cur\")); return 0 ;;\n"
    "        --resume) COMPREPLY=($(compgen -W \"last\" -- \"$cur\")); return 0 ;;\n"
    "        --store) COMPREPLY=($(compgen -d -- \"$cur\")); return 0 ;;\n"
    "        --junit|--inputs|--env-file|-o) COMPREPLY=($(compgen -f -- \"$cur\")); return 0 ;;\n"
    "        -i|--input|-j|--jobs|--limit|--attempt|--keep-runs|--memory|--max-output) return 0 ;;\n"
    "    esac\n"
    "    local opts=\"\"\n"
    "    case \"$cmd\" in\n"
    "        run) opts=\"-i --input --inputs --env-file -j --jobs --fail-fast --dry-run --json -q --quiet "
    "--only -v --verbose --store --no-store --resume --force --no-cache --executor --keep-job-files "
    "--memory --max-output "
    "--junit --progress --help\" ;;\n"
    "        list) opts=\"--json --help\" ;;\n"
    "        validate) opts=\"--help\" ;;\n"
    "        graph) opts=\"--format --help\" ;;\n"
    "        runs) opts=\"--limit --json --store --help\" ;;\n"
    "        show) opts=\"--json --store --help\" ;;\n"
    "        logs) opts=\"--attempt --stderr --store --help\" ;;\n"
    "        report) opts=\"-o --store --help\" ;;\n"
    "        gc) opts=\"--keep-runs --store --help\" ;;\n"
    "        completion) COMPREPLY=($(compgen -W \"bash zsh\" -- \"$cur\")); return 0 ;;\n"
    "        help) COMPREPLY=($(compgen -W \"$commands\" -- \"$cur\")); return 0 ;;\n"
    "        *) return 0 ;;\n"
    "    esac\n"
    "    if [[ \"$cur\" == -* ]]; then\n"
    "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
    "        return 0\n"
    "    fi\n"
    "    case \"$cmd\" in\n"
    "        run)\n"
    "            [ -n \"$file\" ] && { _wfengine_tasks; return 0; }\n"
    "            local IFS=$'\\n'\n"
    "            COMPREPLY=($(compgen -f -X '!*.yaml' -- \"$cur\") "
    "$(compgen -f -X '!*.yml' -- \"$cur\") $(compgen -d -- \"$cur\"))\n"
    "            ;;\n"
    "        list|validate|graph)\n"
    "            local IFS=$'\\n'\n"
    "            COMPREPLY=($(compgen -f -X '!*.yaml' -- \"$cur\") "
    "$(compgen -f -X '!*.yml' -- \"$cur\") $(compgen -d -- \"$cur\"))\n"
    "            ;;\n"
    "        show|logs|report)\n"
    "            local run=\"\"\n"
    "            for ((i = 2; i < COMP_CWORD; i++)); do\n"
    "                [[ \"${COMP_WORDS[i]}\" == -* ]] && continue\n"
    "                [ -n \"$run\" ] && return 0\n"
    "                run=\"${COMP_WORDS[i]}\"\n"
    "                [ \"$cmd\" = logs ] || return 0\n"
    "            done\n"
    "            if [ -z \"$run\" ]; then\n"
    "                COMPREPLY=($(compgen -W \"last\" -- \"$cur\"))\n"
    "                return 0\n"
    "            fi\n"
    "            # logs RUN <TAB>: the run's items as TASK.LABEL, or TASK.INDEX without a label.\n"
    "            local IFS=$'\\n'\n"
    "            COMPREPLY=($(compgen -W \"$(\"${COMP_WORDS[0]}\" show \"$run\" 2>/dev/null | sed -n -e 's/^    \\([A-Za-z0-9_-]*\\)\\[[0-9]*\\] (\\(.*\\))  *[a-z][a-z, ]* [ 0-9]* attempts\\{0,1\\} .*/\\1.\\2/p;t' -e 's/^    \\([A-Za-z0-9_-]*\\)\\[\\([0-9]*\\)\\] .*/\\1.\\2/p')\" -- \"$cur\"))\n"
    "            ;;\n"
    "    esac\n"
    "    return 0\n"
    "}\n"
    "complete -o filenames -F _wfengine wfengine\n";

static const char zsh_prologue[] = "#compdef wfengine\n"
                                   "# zsh completion for wfengine (wfengine completion zsh)\n"
                                   "autoload -U +X bashcompinit && bashcompinit\n";

int wf_cli_completion(int argc, char **argv)
{
    const char *shell = NULL;

    for (int i = 1; i < argc; i++) {
        if (wf_cli_is_help(argv[i])) {
            fputs(help, stdout);
            return WF_EXIT_OK;
        }
        if (shell != NULL || argv[i][0] == '-') {
            wf_cli_errorf("completion: unexpected '%s' (see wfengine completion --help)", argv[i]);
            return WF_EXIT_USAGE;
        }
        shell = argv[i];
    }
    if (shell == NULL) {
        fputs(help, stderr);
        return WF_EXIT_USAGE;
    }
    if (strcmp(shell, "bash") == 0) {
        fputs(bash_script, stdout);
    } else if (strcmp(shell, "zsh") == 0) {
        fputs(zsh_prologue, stdout);
        fputs(bash_script, stdout);
    } else {
        wf_cli_errorf("completion: unknown shell '%s' (use bash or zsh)", shell);
        return WF_EXIT_USAGE;
    }
    return WF_EXIT_OK;
}
