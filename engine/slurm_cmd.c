/*
 * slurm_cmd.c: running Slurm's command-line tools (sbatch, squeue, scontrol, sacct, scancel)
 * with a time limit, and describing how one failed, for messages; wf_slurm_check, which asks
 * whether the tools are there and the cluster answers.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slurm_internal.h"

/* sbatch, squeue and scontrol retry on their own while the controller is busy; a command
 * that has not answered in this time will not. */
#define COMMAND_TIMEOUT_MS 120000
/* wf_slurm_check asks the cluster this long for an answer. */
#define CHECK_TIMEOUT_MS 10000

void wf__slurm_add_tail(wf_strbuf *sb, const char *text, size_t len)
{
    size_t start = 0, keep = 600;

    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
        len--;
    if (len > keep) {
        start = len - keep;
        wf_strbuf_adds(sb, "...");
    }
    for (size_t i = start; i < len; i++)
        wf_strbuf_addc(sb, text[i] == '\n' ? ' ' : text[i]);
}

int wf__slurm_run(const char *const *argv, const char *const *envp, wf_proc_result *res)
{
    wf_proc_spec spec = WF_PROC_SPEC_INIT;

    spec.argv = argv;
    spec.envp = envp;
    spec.timeout_ms = COMMAND_TIMEOUT_MS;
    spec.kill_grace_ms = 2000;
    spec.stdout_cap = SIZE_MAX;
    return wf_proc_run(&spec, res);
}

void wf__slurm_describe_failure(wf_strbuf *sb, const char *what, int rc, const wf_proc_result *res)
{
    if (rc == WF_EEXEC && res->error != NULL)
        wf_strbuf_addf(sb, "%s: %s", what, res->error);
    else if (rc == WF_ETIMEOUT)
        wf_strbuf_addf(sb, "%s did not answer within %d s", what, COMMAND_TIMEOUT_MS / 1000);
    else if (rc != WF_OK)
        wf_strbuf_addf(sb, "%s: %s", what, res->error ? res->error : wf_strerror(rc));
    else {
        wf_strbuf_addf(sb, "%s failed (exit %d)", what, res->exit_code);
        if (res->err.len > 0) {
            wf_strbuf_adds(sb, ": ");
            wf__slurm_add_tail(sb, res->err.data, res->err.len);
        }
    }
}

/* Looks name up in PATH like execvp; returns whether an executable file was found. */
static bool on_path(const char *name, const char *path)
{
    const char *p = path;

    while (p != NULL && *p != '\0') {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        char *full = wf_xasprintf("%.*s%s%s", (int)len, p, len ? "/" : "", name);
        struct stat st;
        bool ok = stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0;

        free(full);
        if (ok)
            return true;
        p = colon ? colon + 1 : NULL;
    }
    return false;
}

int wf_slurm_check(wf_error *err)
{
    static const char *const tools[] = { "sbatch", "squeue", "scontrol", "scancel", NULL };
    const char *path = getenv("PATH");
    const char *sinfo_argv[] = { "sinfo", "-h", "-o", "%P %a", NULL };
    const char *squeue_argv[] = { "squeue", "-h", "-o", "%i", "--me", NULL };
    const char *const *argv;
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_proc_result res;
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    int rc;

    if (path == NULL)
        path = "/bin:/usr/bin";
    for (size_t k = 0; tools[k] != NULL; k++) {
        if (!on_path(tools[k], path)) {
            wf_error_set(err, WF_EEXEC, NULL, 0, 0,
                         "%s: not found on PATH (%s); the Slurm executor needs sbatch, squeue, "
                         "scontrol and scancel (Debian: apt-get install slurm-client)",
                         tools[k], path);
            return WF_EEXEC;
        }
    }
    argv = on_path("sinfo", path) ? sinfo_argv : squeue_argv;
    memset(&res, 0, sizeof(res));
    spec.argv = argv;
    spec.timeout_ms = CHECK_TIMEOUT_MS;
    spec.kill_grace_ms = 1000;
    rc = wf_proc_run(&spec, &res);
    if (rc != WF_OK || res.exit_code != 0) {
        wf_strbuf_addf(&sb, "the Slurm cluster does not answer: ");
        if (rc == WF_ETIMEOUT) {
            wf_strbuf_addf(&sb, "`%s -h` gave no answer within %d s", argv[0],
                           CHECK_TIMEOUT_MS / 1000);
        } else {
            wf__slurm_describe_failure(&sb, argv[0], rc, &res);
        }
        if (getenv("SLURM_CONF") != NULL)
            wf_strbuf_addf(&sb, " (SLURM_CONF=%s)", getenv("SLURM_CONF"));
        wf_error_set(err, WF_EEXEC, NULL, 0, 0, "%s", wf_strbuf_str(&sb));
        rc = WF_EEXEC;
        goto out;
    }
    rc = WF_OK;
out:
    wf_proc_result_release(&res);
    wf_strbuf_release(&sb);
    return rc;
}
