/*
 * slurm_finish.c: how an element that ended is reported, on the poller thread (slurm_track.c
 * decides when). wf__slurm_finish reads the element's output files (stdout and $WF_RESULT
 * whole up to WF_SLURM_INLINE_MAX, else by path; stderr up to STDERR_CAP), words the failure
 * from Slurm's state and the exit code, calls the done callback once and removes the files.
 * A packed job's items are reported one by one as their rc files appear
 * (wf__slurm_poll_packs), the rest of an element when it ends (finish_pack_element); pack:
 * auto's waiting items are sized and submitted by submit_rest, or dropped
 * (wf__slurm_drop_rest).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slurm_internal.h"

/* What is kept in memory of an element's stderr; its stdout and $WF_RESULT are read whole only
 * up to WF_SLURM_INLINE_MAX (larger ones go by path: see wf_slurm_result). */
#define STDERR_CAP ((size_t)16 << 20)

/* Reads at most cap bytes of path into *out (NUL-terminated). Returns false when the file
 * cannot be opened (then *out is NULL). *truncated tells whether there was more. */
bool wf__slurm_read_capped(const char *path, size_t cap, char **out, bool *truncated)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *out = NULL;
    *truncated = false;
    if (fd < 0)
        return false;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (sb.len + (size_t)r > cap) {
            wf_strbuf_add(&sb, buf, cap - sb.len);
            *truncated = true;
            break;
        }
        wf_strbuf_add(&sb, buf, (size_t)r);
    }
    close(fd);
    /* An empty file is an allocated "": detach always terminates. */
    *out = wf_strbuf_detach(&sb, NULL);
    return true;
}

/* An element's stdout or $WF_RESULT file: up to WF_SLURM_INLINE_MAX bytes read whole into
 * *text; a larger one is left where it is (*big_path owned) with *text its last
 * WF_SLURM_INLINE_MAX bytes (for the log). False when the file cannot be opened (then both
 * NULL). */
static bool read_output(const char *path, char **text, char **big_path)
{
    struct stat st;
    bool truncated;
    int fd;

    *big_path = NULL;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size <= WF_SLURM_INLINE_MAX)
        return wf__slurm_read_capped(path, WF_SLURM_INLINE_MAX, text, &truncated);
    *text = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    {
        char *tail = wf_xmalloc(WF_SLURM_INLINE_MAX + 1);
        ssize_t n = pread(fd, tail, WF_SLURM_INLINE_MAX, st.st_size - (off_t)WF_SLURM_INLINE_MAX);

        tail[n > 0 ? n : 0] = '\0';
        *text = tail;
    }
    close(fd);
    *big_path = wf_xstrdup(path);
    return true;
}

/* What a Slurm state means, for the message. */
static const char *state_meaning(const char *state)
{
    static const char *const meanings[][2] = {
        { "NODE_FAIL", "its node failed" },         { "OUT_OF_MEMORY", "it ran out of memory" },
        { "BOOT_FAIL", "its node failed to boot" }, { "DEADLINE", "it reached its deadline" },
        { "PREEMPTED", "it was preempted" },        { "REVOKED", "it was revoked" },
    };

    for (size_t i = 0; i < WF_ARRAY_LEN(meanings); i++) {
        if (strcmp(state, meanings[i][0]) == 0)
            return meanings[i][1];
    }
    return "it ended";
}

static void exit_text(wf_strbuf *sb, int exit_code)
{
    if (exit_code > 128 && exit_code < 128 + 65)
        wf_strbuf_addf(sb, "killed by signal %d (exit code %d)", exit_code - 128, exit_code);
    else if (exit_code >= 0)
        wf_strbuf_addf(sb, "exit code %d", exit_code);
    else
        wf_strbuf_adds(sb, "exit code unknown");
}

static void finish_pack_element(wf_slurm *s, wf_slurm_job *j, size_t a, const char *state,
                                int exit_code, const char *note);

/* Reports element i of j as ended in state (Slurm's spelling) with exit_code; note, when
 * not NULL, explains where the state came from. Called on the poller thread, without the
 * lock: the job's fields are the poller's. */
void wf__slurm_finish(wf_slurm *s, wf_slurm_job *j, size_t i, const char *state, int exit_code,
                      int64_t run_time_ms, const char *note)
{
    wf_slurm_job_element *e = &j->el[i];
    wf_slurm_result r;
    wf_strbuf msg = WF_STRBUF_INIT;
    char st[32], *path;
    bool have_out, have_err, err_trunc;

    if (j->items != NULL) {
        finish_pack_element(s, j, i, state, exit_code, note);
        return;
    }
    wf__slurm_base_state(state, st, sizeof(st));
    memset(&r, 0, sizeof(r));
    r.task = j->task;
    r.unit = e->unit;
    r.attempt = e->attempt;
    r.exit_code = exit_code;
    r.end_ms = wf_now_ms();
    r.start_ms = e->start_ms;
    if (r.start_ms == 0) {
        /* It ran between two polls: RunTime says for how long. */
        r.start_ms = run_time_ms >= 0 ? r.end_ms - run_time_ms : r.end_ms;
        if (r.start_ms < j->submit_ms)
            r.start_ms = j->submit_ms;
    }
    if (j->is_array)
        snprintf(r.job_id, sizeof(r.job_id), "%s_%zu", j->id, i);
    else
        snprintf(r.job_id, sizeof(r.job_id), "%s", j->id);
    r.status = wf__slurm_state_status(st, exit_code, j->scancelled, &r.timed_out);
    if (e->timed_out && r.status != WF_STATUS_SUCCEEDED) {
        /* Our scancel at the task's timeout (or Slurm's own limit just before it). */
        r.status = WF_STATUS_FAILED;
        r.timed_out = true;
    }

    path = wf_xasprintf("%s/out.%zu", j->dir, i);
    have_out = read_output(path, &r.out, &r.out_path);
    free(path);
    path = wf_xasprintf("%s/err.%zu", j->dir, i);
    have_err = wf__slurm_read_capped(path, STDERR_CAP, &r.err, &err_trunc);
    free(path);
    path = wf_xasprintf("%s/result.%zu", j->dir, i);
    read_output(path, &r.result, &r.result_path);
    free(path);

    if (r.status != WF_STATUS_SUCCEEDED) {
        wf_strbuf_addf(&msg, "job %s %s: ", r.job_id, st);
        if (e->timed_out && r.timed_out && strcmp(st, "TIMEOUT") != 0) {
            wf_strbuf_adds(&msg, "timed out after ");
            wf_duration_format(&msg, j->timeout_ms);
            wf_strbuf_adds(&msg, " (the task's timeout: wfengine scancelled it)");
        } else if (r.status == WF_STATUS_CANCELLED) {
            wf_strbuf_adds(&msg, "cancelled by wfengine");
        } else if (strcmp(st, "CANCELLED") == 0) {
            wf_strbuf_adds(&msg, "cancelled by Slurm (or by someone else's scancel)");
        } else if (r.timed_out) {
            wf_strbuf_addf(&msg, "reached its time limit of %lld minute%s", (long long)j->limit_min,
                           j->limit_min == 1 ? "" : "s");
            if (j->limit_from_timeout)
                wf_strbuf_adds(&msg, " (the task's timeout, rounded up to whole minutes)");
        } else if (strcmp(st, "COMPLETED") == 0 || strcmp(st, "FAILED") == 0) {
            exit_text(&msg, exit_code);
        } else {
            wf_strbuf_adds(&msg, state_meaning(st));
            wf_strbuf_adds(&msg, ", ");
            exit_text(&msg, exit_code);
        }
        if (note != NULL)
            wf_strbuf_addf(&msg, " (%s)", note);
        if (!have_out && !have_err && r.status == WF_STATUS_FAILED)
            wf_strbuf_addf(&msg,
                           "; it left no output files in %s: is that directory visible "
                           "on the compute nodes?",
                           j->dir);
        r.error = wf_strbuf_detach(&msg, NULL);
    }
    wf_strbuf_release(&msg);

    e->done = true;
    j->left--;
    s->done(&r, s->user);
    /* After the callback: it may have linked a large output file elsewhere. */
    if (!s->keep_files)
        wf__slurm_remove_element_files(j->dir, i);
    free(r.result); /* the callback may have taken it (then NULL) */
    free(r.out_path);
    free(r.result_path);
    atomic_fetch_sub(&s->pending, 1);
}

/* ---- packs ---------------------------------------------------------------------------- */

/* The mtime of path in milliseconds of the wall clock, -1 when it does not exist. */
static int64_t mtime_ms(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return -1;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

/* Reports item k (of element a) of the packed job j. finished: its rc file gave exit code
 * `code`; otherwise it did not end by itself and status, timed_out and why (after "job ID
 * (item ...) ") say what became of it. */
static void report_item(wf_slurm *s, wf_slurm_job *j, size_t a, size_t k, bool finished, int code,
                        wf_status status, bool timed_out, const char *why)
{
    wf_slurm_job_element *it = &j->items[k];
    size_t f = j->pack_base + k, first = a * j->pack;
    size_t size = j->n_items - first < j->pack ? j->n_items - first : j->pack;
    int64_t now = wf_now_ms(), off = now - wf_wall_ms(), begin, end;
    wf_strbuf msg = WF_STRBUF_INIT;
    wf_slurm_result r;
    char *path;
    bool trunc;

    memset(&r, 0, sizeof(r));
    r.task = j->task;
    r.unit = it->unit;
    r.attempt = it->attempt;
    snprintf(r.job_id, sizeof(r.job_id), "%s_%zu", j->id, a);
    /* The item's own times: begin.K is touched when it starts, rc.K written when it ends
     * (both on the node's clock, as seen through the file system). */
    path = wf_xasprintf("%s/begin.%zu", j->dir, f);
    begin = mtime_ms(path);
    free(path);
    path = wf_xasprintf("%s/rc.%zu", j->dir, f);
    end = finished ? mtime_ms(path) : -1;
    free(path);
    r.end_ms = end >= 0 ? end + off : now;
    r.start_ms = begin >= 0 ? begin + off : r.end_ms;
    if (begin >= 0 && end >= begin)
        it->ran_ms = end - begin;
    if (r.end_ms > now)
        r.end_ms = now;
    if (r.start_ms < j->submit_ms)
        r.start_ms = j->submit_ms;
    if (r.start_ms > r.end_ms)
        r.start_ms = r.end_ms;

    path = wf_xasprintf("%s/out.%zu", j->dir, f);
    read_output(path, &r.out, &r.out_path);
    free(path);
    path = wf_xasprintf("%s/err.%zu", j->dir, f);
    wf__slurm_read_capped(path, STDERR_CAP, &r.err, &trunc);
    free(path);
    path = wf_xasprintf("%s/result.%zu", j->dir, f);
    read_output(path, &r.result, &r.result_path);
    free(path);

    if (finished) {
        r.exit_code = code;
        r.status = code == 0 ? WF_STATUS_SUCCEEDED : WF_STATUS_FAILED;
        /* `timeout` exits 124 (137 after its grace): a timeout when the item ran that long. */
        r.timed_out = code != 0 && j->item_timeout_ms > 0 && (code == 124 || code == 137) &&
                      (it->ran_ms < 0 || it->ran_ms >= j->item_timeout_ms - 1000);
    } else {
        r.exit_code = -1;
        r.status = status;
        r.timed_out = timed_out;
    }
    if (r.status != WF_STATUS_SUCCEEDED) {
        wf_strbuf_addf(&msg, "job %s (item %zu of %zu in its pack) ", r.job_id, k - first + 1,
                       size);
        if (!finished)
            wf_strbuf_adds(&msg, why);
        else if (r.timed_out)
            wf_strbuf_addf(&msg, "FAILED: timed out after %lldms (exit code %d)",
                           (long long)j->item_timeout_ms, code);
        else {
            wf_strbuf_adds(&msg, "FAILED: ");
            exit_text(&msg, code);
        }
        r.error = wf_strbuf_detach(&msg, NULL);
    }
    wf_strbuf_release(&msg);
    it->done = true;
    s->done(&r, s->user);
    if (!s->keep_files)
        wf__slurm_remove_element_files(j->dir, f);
    free(r.result);
    free(r.out_path);
    free(r.result_path);
    atomic_fetch_sub(&s->pending, 1);
}

/* Reports the items of element a of packed job j whose rc file is complete (a line), in
 * order: the wrapper runs them one after the other. */
static void scan_element(wf_slurm *s, wf_slurm_job *j, size_t a)
{
    size_t end = (a + 1) * j->pack < j->n_items ? (a + 1) * j->pack : j->n_items;

    while (j->next[a] < end) {
        size_t k = j->next[a];
        char *path = wf_xasprintf("%s/rc.%zu", j->dir, j->pack_base + k), *text = NULL;
        bool trunc, whole;

        whole = wf__slurm_read_capped(path, 32, &text, &trunc) && text[0] != '\0' &&
                text[strlen(text) - 1] == '\n';
        free(path);
        if (whole) {
            long long code = wf__slurm_parse_num(text, strcspn(text, "\n"));

            report_item(s, j, a, k, true, code >= 0 && code < 256 ? (int)code : -1,
                        WF_STATUS_FAILED, false, NULL);
        }
        free(text);
        if (!whole)
            break;
        j->next[a]++;
    }
}

/* Element a of packed job j ended in state: its items that finished are reported as they
 * ended, the others with what became of the element. */
static void finish_pack_element(wf_slurm *s, wf_slurm_job *j, size_t a, const char *state,
                                int exit_code, const char *note)
{
    size_t end = (a + 1) * j->pack < j->n_items ? (a + 1) * j->pack : j->n_items;
    wf_strbuf why = WF_STRBUF_INIT, said = WF_STRBUF_INIT;
    wf_status status;
    bool timed_out;
    char st[32], *path, *text = NULL;

    scan_element(s, j, a);
    wf__slurm_base_state(state, st, sizeof(st));
    status = wf__slurm_state_status(st, exit_code, j->scancelled, &timed_out);
    /* What the element's script said: why it could not run an item. */
    path = wf_xasprintf("%s/slurm-%zu.err.%zu", j->dir, j->pack_base, a);
    if (wf__slurm_read_capped(path, 4096, &text, &timed_out) && text[0] != '\0') {
        wf_strbuf_adds(&said, "; its pack's script said: ");
        wf__slurm_add_tail(&said, text, strlen(text));
    }
    free(text);
    free(path);
    for (; j->next[a] < end; j->next[a]++) {
        size_t k = j->next[a];
        bool started, item_timed_out = false;

        path = wf_xasprintf("%s/begin.%zu", j->dir, j->pack_base + k);
        started = mtime_ms(path) >= 0;
        free(path);
        wf_strbuf_reset(&why);
        status = wf__slurm_state_status(st, exit_code, j->scancelled, &timed_out);
        if (status == WF_STATUS_CANCELLED) {
            wf_strbuf_addf(&why, "%s: cancelled by wfengine %s", st,
                           started ? "while it ran" : "before it started");
        } else if (strcmp(st, "CANCELLED") == 0) {
            wf_strbuf_addf(&why, "%s: cancelled by Slurm (or by someone else's scancel) %s", st,
                           started ? "while it ran" : "before it started");
        } else if (timed_out) {
            wf_strbuf_addf(&why, "%s: its pack reached its time limit of %lld minute%s %s", st,
                           (long long)j->limit_min, j->limit_min == 1 ? "" : "s",
                           started ? "while it ran" : "before it started");
            item_timed_out = started;
        } else if (strcmp(st, "COMPLETED") == 0 || strcmp(st, "FAILED") == 0) {
            wf_strbuf_addf(&why, "%s: its pack ended without its exit status", st);
        } else {
            wf_strbuf_addf(&why, "%s: %s %s", st, state_meaning(st),
                           started ? "while it ran" : "before it started");
        }
        if (note != NULL)
            wf_strbuf_addf(&why, " (%s)", note);
        wf_strbuf_adds(&why, wf_strbuf_str(&said));
        report_item(s, j, a, k, false, -1,
                    status == WF_STATUS_CANCELLED ? WF_STATUS_CANCELLED : WF_STATUS_FAILED,
                    item_timed_out, wf_strbuf_str(&why));
    }
    wf_strbuf_release(&why);
    wf_strbuf_release(&said);
    if (!s->keep_files)
        wf__slurm_remove_pack_element_files(j->dir, j->pack_base, a);
    j->el[a].done = true;
    j->left--;
}

/* Reports the items from `from` on that pack: auto's probe job j holds back as ended with
 * status and the message why, without submitting them; j no longer holds any. */
void wf__slurm_drop_rest(wf_slurm *s, wf_slurm_job *j, size_t from, wf_status status,
                         const char *why)
{
    wf_slurm_packsub *rest = j->rest;

    for (size_t k = from; k < rest->n; k++) {
        wf_slurm_result r;

        memset(&r, 0, sizeof(r));
        r.task = j->task;
        r.unit = rest->items[k].unit;
        r.attempt = rest->items[k].attempt;
        r.status = status;
        r.exit_code = -1;
        r.start_ms = r.end_ms = wf_now_ms();
        snprintf(r.job_id, sizeof(r.job_id), "(not submitted)");
        r.error = wf_xasprintf("task '%s': %s", j->task_name, why);
        if (!s->keep_files)
            wf__slurm_remove_element_files(j->dir, rest->base + k);
        s->done(&r, s->user);
        atomic_fetch_sub(&s->pending, 1);
    }
    wf__slurm_packsub_free(rest);
    j->rest = NULL;
    j->left--;
}

/* pack: auto: once every probe item of j has ended, or WF_SLURM_PACK_TARGET_MS after the
 * first started, sizes the packs of the items held back (wf__slurm_pack_size) and submits
 * them; when the run is being cancelled, reports them cancelled instead. */
static void submit_rest(wf_slurm *s, wf_slurm_job *j)
{
    int64_t durations[WF_SLURM_PACK_PROBE], first = 0;
    size_t n_dur = 0, unfinished = 0, pack, accepted = 0;
    bool cancel;
    wf_error err;
    int rc;

    pthread_mutex_lock(&s->mu);
    cancel = s->cancel || s->stop;
    pthread_mutex_unlock(&s->mu);
    if (cancel) {
        wf__slurm_drop_rest(s, j, 0, WF_STATUS_CANCELLED,
                            "not submitted to Slurm: the run was cancelled");
        return;
    }
    for (size_t k = 0; k < j->n_items; k++) {
        if (!j->items[k].done)
            unfinished++;
        else if (j->items[k].ran_ms >= 0 && n_dur < WF_SLURM_PACK_PROBE)
            durations[n_dur++] = j->items[k].ran_ms;
    }
    for (size_t a = 0; a < j->n; a++) {
        if (j->el[a].start_ms > 0 && (first == 0 || j->el[a].start_ms < first))
            first = j->el[a].start_ms;
    }
    if (unfinished > 0 && (first == 0 || wf_now_ms() - first < WF_SLURM_PACK_TARGET_MS))
        return;
    pack = wf__slurm_pack_size(durations, n_dur, unfinished);
    wf_error_init(&err);
    /* Split at MaxArraySize and rate limited like any submission; what sbatch did not take
     * fails (or is cancelled) here, through the callback. */
    rc = wf__slurm_submit_pack(s, j->rest, j->rest->base, j->rest->items, j->rest->n, pack, NULL,
                               false, &accepted, &err);
    if (rc != WF_OK) {
        wf__slurm_drop_rest(s, j, accepted,
                            rc == WF_ECANCELLED ? WF_STATUS_CANCELLED : WF_STATUS_FAILED,
                            err.message ? err.message : "sbatch failed");
    } else {
        wf__slurm_packsub_free(j->rest);
        j->rest = NULL;
        j->left--;
    }
    wf_error_release(&err);
}

/* After a poll: the items that running packed elements have finished, and pack: auto's
 * waiting items. */
void wf__slurm_poll_packs(wf_slurm *s, wf_slurm_job *const *jobs, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        wf_slurm_job *j = jobs[k];

        if (j->items == NULL)
            continue;
        for (size_t a = 0; a < j->n; a++) {
            /* Running now: a pending element has nothing to show yet (and one that ran
             * between two polls is finished by finish_pack_element). */
            if (!j->el[a].done && j->el[a].queued && j->el[a].start_ms > 0)
                scan_element(s, j, a);
        }
        if (j->rest != NULL)
            submit_rest(s, j);
    }
}
