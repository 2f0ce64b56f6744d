/*
 * slurm_track.c: following what was submitted, on the poller thread (wf__slurm_poller). Each
 * poll asks `squeue` about every job at once; for the elements no longer queued, `scontrol
 * show job -o`, then `sacct` and the rc.i file the wrapper wrote, say how they ended. Each
 * element that ended is reported once through the done callback (finish), with its output
 * files read and removed. cancel and stop (slurm.c) reach the poller through flags; it
 * scancels the jobs and reports them as they end. The poller also enforces each task's
 * timeout (it scancels an element that has run that long: Slurm's --time only has whole
 * minutes), and backs off: poll_ms between polls, doubling while nothing changes up to
 * poll_max_ms, and never so long that a timeout would be missed. A packed job's items are
 * reported one by one as their rc files appear (poll_packs), the rest of an element when it
 * ends (finish_pack_element); pack: auto's waiting items are sized and submitted by
 * submit_rest. Packed elements are not cut at the task's timeout: each item has its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "slurm_internal.h"

/* What is kept in memory of an element's stderr; its stdout and $WF_RESULT are read whole only
 * up to WF_SLURM_INLINE_MAX (larger ones go by path: see wf_slurm_result). */
#define STDERR_CAP ((size_t)16 << 20)
/* Job ids per squeue/sacct/scancel call: one call in practice, and far below the 128 KiB
 * that Linux allows for one argument. */
#define IDS_PER_CALL 4000
/* An element that left the queue but that neither scontrol nor sacct knows, and that left no
 * exit status file, is given up on after this many polls. */
#define MISSING_POLLS 5
/* squeue failing for this long means the cluster is gone: every pending element fails. */
#define GIVE_UP_MS (5 * 60 * 1000)
/* wf_slurm_free waits this long for Slurm to confirm the cancellation of what is left. */
#define STOP_WAIT_MS 30000

/* Reads at most cap bytes of path into *out (NUL-terminated). Returns false when the file
 * cannot be opened (then *out is NULL). *truncated tells whether there was more. */
static bool read_capped(const char *path, size_t cap, char **out, bool *truncated)
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
        return read_capped(path, WF_SLURM_INLINE_MAX, text, &truncated);
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

void wf__slurm_job_free(wf_slurm_job *j)
{
    if (j == NULL)
        return;
    free(j->el);
    free(j->items);
    free(j->next);
    wf__slurm_packsub_free(j->rest);
    free(j->task_name);
    free(j->dir);
    free(j);
}

/* Whether element e has left the queue unreported: how it ended is still to be found. */
static bool gone(const wf_slurm_job_element *e)
{
    return !e->done && !e->queued;
}

static bool any_gone(const wf_slurm_job *j)
{
    for (size_t i = 0; i < j->n; i++) {
        if (gone(&j->el[i]))
            return true;
    }
    return false;
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
static void finish(wf_slurm *s, wf_slurm_job *j, size_t i, const char *state, int exit_code,
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
    have_err = read_capped(path, STDERR_CAP, &r.err, &err_trunc);
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
    read_capped(path, STDERR_CAP, &r.err, &trunc);
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

        whole = read_capped(path, 32, &text, &trunc) && text[0] != '\0' &&
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
    if (read_capped(path, 4096, &text, &timed_out) && text[0] != '\0') {
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
static void drop_rest(wf_slurm *s, wf_slurm_job *j, size_t from, wf_status status, const char *why)
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
        drop_rest(s, j, 0, WF_STATUS_CANCELLED, "not submitted to Slurm: the run was cancelled");
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
        drop_rest(s, j, accepted, rc == WF_ECANCELLED ? WF_STATUS_CANCELLED : WF_STATUS_FAILED,
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
static void poll_packs(wf_slurm *s, wf_slurm_job *const *jobs, size_t n)
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

/* The next line of a command's output from *pos on, without its newline; false at the end. */
static bool next_line(const wf_proc_output *out, size_t *pos, const char **line, size_t *len)
{
    const char *nl;

    if (out->data == NULL || *pos >= out->len)
        return false;
    *line = out->data + *pos;
    nl = memchr(*line, '\n', out->len - *pos);
    *len = nl ? (size_t)(nl - *line) : out->len - *pos;
    *pos += *len + 1;
    return true;
}

/* The comma-separated ids of jobs[from..to) that still have elements to report. */
static void id_list(wf_strbuf *sb, wf_slurm_job *const *jobs, size_t from, size_t to)
{
    wf_strbuf_reset(sb);
    for (size_t k = from; k < to; k++) {
        if (jobs[k]->left == 0)
            continue;
        if (sb->len > 0)
            wf_strbuf_addc(sb, ',');
        wf_strbuf_adds(sb, jobs[k]->id);
    }
}

static wf_slurm_job *find_job(wf_slurm_job *const *jobs, size_t n, const char *id, size_t idlen)
{
    for (size_t k = 0; k < n; k++) {
        if (strlen(jobs[k]->id) == idlen && memcmp(jobs[k]->id, id, idlen) == 0)
            return jobs[k];
    }
    return NULL;
}

/* When a RUNNING element started, on the wf_now_ms() clock: squeue's start time (%S, whole
 * seconds of the controller's clock: the second after it, so that an element is never taken
 * to have run longer than it has), but never later than now, when the poller first saw it
 * running, nor before its submission. */
static int64_t running_since(const wf_slurm_job *j, const char *start_text, int64_t now)
{
    int64_t epoch = wf__slurm_parse_datetime(start_text), start;

    if (epoch < 0)
        return now;
    start = now - (wf_wall_ms() - (epoch + 1) * 1000);
    if (start > now)
        start = now;
    if (start < j->submit_ms)
        start = j->submit_ms;
    return start;
}

/* One `squeue -r` line, "ID STATE START": marks the element queued (and running). */
static void note_queued(wf_slurm_job *const *jobs, size_t n, const char *line, size_t len,
                        int64_t now)
{
    const char *sp = memchr(line, ' ', len), *us, *sp2;
    size_t idlen;
    long long idx = 0;
    char state[32], start[40];
    size_t slen;
    wf_slurm_job *j;

    if (sp == NULL)
        return;
    idlen = (size_t)(sp - line);
    us = memchr(line, '_', idlen);
    j = find_job(jobs, n, line, us ? (size_t)(us - line) : idlen);
    if (j == NULL)
        return;
    if (us != NULL)
        idx = wf__slurm_parse_num(us + 1, idlen - (size_t)(us + 1 - line));
    if (idx < 0 || (size_t)idx >= j->n)
        return;
    sp2 = memchr(sp + 1, ' ', len - idlen - 1);
    slen = sp2 ? (size_t)(sp2 - sp - 1) : len - idlen - 1;
    if (slen >= sizeof(state))
        slen = sizeof(state) - 1;
    memcpy(state, sp + 1, slen);
    state[slen] = '\0';
    start[0] = '\0';
    if (sp2 != NULL) {
        size_t tlen = len - (size_t)(sp2 + 1 - line);

        if (tlen >= sizeof(start))
            tlen = sizeof(start) - 1;
        memcpy(start, sp2 + 1, tlen);
        start[tlen] = '\0';
    }
    /* A final state still listed is as good as gone: scontrol has the details. */
    if (wf__slurm_state_ended(state))
        return;
    j->el[idx].queued = true;
    if (j->el[idx].start_ms == 0 && strcmp(state, "RUNNING") == 0)
        j->el[idx].start_ms = running_since(j, start, now);
}

/* Runs squeue for jobs; marks what is queued. Returns false (with why in *why) when squeue
 * did not answer. */
static bool poll_queue(wf_slurm_job *const *jobs, size_t n, wf_strbuf *why)
{
    wf_strbuf ids = WF_STRBUF_INIT;
    wf_proc_result res;
    bool ok = true;
    int64_t now = wf_now_ms();

    wf_proc_result_init(&res);
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < jobs[k]->n; i++)
            jobs[k]->el[i].queued = false;
    }
    for (size_t from = 0; from < n && ok; from += IDS_PER_CALL) {
        size_t to = from + IDS_PER_CALL < n ? from + IDS_PER_CALL : n;
        const char *argv[] = { "squeue", "-h", "-r", "-o", "%i %T %S", "-j", NULL, NULL };
        const char *line;
        size_t len, pos = 0;
        int rc;

        id_list(&ids, jobs, from, to);
        if (ids.len == 0)
            continue;
        argv[6] = wf_strbuf_str(&ids);
        wf_proc_result_release(&res);
        rc = wf__slurm_run(argv, NULL, &res);
        if (rc != WF_OK || res.exit_code != 0) {
            /* squeue -j with only ids the controller has purged fails this way: nothing of
             * ours is queued then. */
            if (rc == WF_OK && res.err.data != NULL &&
                strstr(res.err.data, "Invalid job id specified") != NULL)
                continue;
            wf__slurm_describe_failure(why, "squeue", rc, &res);
            ok = false;
            break;
        }
        while (next_line(&res.out, &pos, &line, &len))
            note_queued(jobs, n, line, len, now);
    }
    wf_proc_result_release(&res);
    wf_strbuf_release(&ids);
    return ok;
}

/* A record for the elements that never started, as one range ("ArrayTaskId=2-5,7%2"):
 * what happens to the pending part of an array that is cancelled. Every element in it ends
 * in the record's state, with no exit code (its "0:0" is not one). A list too long for the buffer
 * is cut; the elements it loses are found by the fallbacks. */
static void finish_range(wf_slurm *s, wf_slurm_job *j, const char *line, size_t len,
                         const wf__slurm_record *rec)
{
    char ids[4096];
    const char *p = ids;

    if (!wf__slurm_field(line, len, "ArrayTaskId", ids, sizeof(ids)))
        return;
    ids[strcspn(ids, "%")] = '\0';
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        const char *dash = memchr(p, '-', n);
        long long from, to;

        from = wf__slurm_parse_num(p, dash ? (size_t)(dash - p) : n);
        to = dash ? wf__slurm_parse_num(dash + 1, n - (size_t)(dash + 1 - p)) : from;
        for (long long i = from; from >= 0 && i <= to && (size_t)i < j->n; i++) {
            if (gone(&j->el[i]))
                finish(s, j, (size_t)i, rec->state, -1, 0, NULL);
        }
        p += n;
        if (*p == ',')
            p++;
    }
}

/* Finishes every element of j that scontrol shows in a final state. */
static void poll_scontrol(wf_slurm *s, wf_slurm_job *j)
{
    const char *argv[] = { "scontrol", "show", "job", "-o", j->id, NULL };
    wf_proc_result res;
    const char *line;
    size_t len, pos = 0;
    int rc;

    wf_proc_result_init(&res);
    rc = wf__slurm_run(argv, NULL, &res);
    if (rc != WF_OK || res.exit_code != 0)
        goto out;
    while (next_line(&res.out, &pos, &line, &len)) {
        wf__slurm_record rec;
        long idx = 0;

        if (!wf__slurm_parse_record(line, len, &rec) || !wf__slurm_state_ended(rec.state))
            continue;
        if (j->is_array) {
            if (strcmp(rec.array_job_id, j->id) != 0)
                continue;
            if (rec.array_task_id < 0) {
                finish_range(s, j, line, len, &rec);
                continue;
            }
            idx = rec.array_task_id;
        } else if (strcmp(rec.job_id, j->id) != 0) {
            continue;
        }
        if ((size_t)idx >= j->n || j->el[idx].done)
            continue;
        finish(s, j, (size_t)idx, rec.state, rec.exit_code, rec.run_time_ms, NULL);
    }
out:
    wf_proc_result_release(&res);
}

/* For elements that scontrol no longer knows: sacct (accounting, then the job completion
 * log of `sacct -c`), then the exit status file the wrapper wrote. */
static void poll_fallback(wf_slurm *s, wf_slurm_job *j)
{
    wf_strbuf ids = WF_STRBUF_INIT;
    wf_proc_result res;
    const char *raw;
    size_t len, pos = 0;

    wf_proc_result_init(&res);
    for (size_t i = 0; i < j->n; i++) {
        if (!gone(&j->el[i]))
            continue;
        if (ids.len > 0)
            wf_strbuf_addc(&ids, ',');
        if (j->is_array)
            wf_strbuf_addf(&ids, "%s_%zu", j->id, i);
        else
            wf_strbuf_adds(&ids, j->id);
    }
    if (ids.len == 0)
        goto out;
    {
        const char *argv[] = {
            "sacct", "-n", "-P", "-X", "-o", "JobID,State,ExitCode", "-j", wf_strbuf_str(&ids), NULL
        };

        if (wf__slurm_run(argv, NULL, &res) != WF_OK || res.exit_code != 0) {
            /* No accounting database: the job completion log knows plain jobs by id (array
             * elements have ids of their own there, which only scontrol told). */
            const char *argv_c[] = { "sacct", "-c",  "-n", "-P", "-o", "JobID,State,ExitCode",
                                     "-j",    j->id, NULL };

            wf_proc_result_release(&res);
            if (j->is_array || wf__slurm_run(argv_c, NULL, &res) != WF_OK || res.exit_code != 0)
                wf_proc_result_release(&res);
        }
    }
    while (next_line(&res.out, &pos, &raw, &len)) {
        char line[256], *f1, *f2, *us;
        long long idx = 0;

        if (len >= sizeof(line))
            len = sizeof(line) - 1;
        memcpy(line, raw, len);
        line[len] = '\0';
        f1 = strchr(line, '|');
        f2 = f1 ? strchr(f1 + 1, '|') : NULL;
        if (f2 == NULL)
            continue;
        *f1++ = '\0';
        *f2++ = '\0';
        us = strchr(line, '_');
        if (us != NULL)
            *us = '\0';
        if (j->is_array != (us != NULL) || strcmp(line, j->id) != 0)
            continue;
        if (us != NULL)
            idx = wf__slurm_parse_num(us + 1, strlen(us + 1));
        if (idx < 0 || (size_t)idx >= j->n || !gone(&j->el[idx]) || !wf__slurm_state_ended(f1))
            continue;
        finish(s, j, (size_t)idx, f1, wf__slurm_parse_exit(f2), -1, "state from sacct");
    }
    for (size_t i = 0; i < j->n; i++) {
        wf_slurm_job_element *e = &j->el[i];
        char *path, *text = NULL;
        bool trunc;

        if (!gone(e))
            continue;
        /* A packed element's script writes its own rc file when it has run its items. */
        path = j->items != NULL ? wf_xasprintf("%s/slurm-%zu.rc.%zu", j->dir, j->pack_base, i)
                                : wf_xasprintf("%s/rc.%zu", j->dir, i);
        if (read_capped(path, 32, &text, &trunc)) {
            int code = (int)wf__slurm_parse_num(text, strcspn(text, "\n"));

            finish(s, j, i, code == 0 ? "COMPLETED" : "FAILED", code, -1,
                   "Slurm no longer knew the job; exit status from its rc file");
        } else if (++e->missing >= MISSING_POLLS) {
            finish(s, j, i, j->scancelled ? "CANCELLED" : "FAILED", -1, -1,
                   "it left the queue, but neither scontrol nor sacct knows how it ended");
        }
        free(path);
        free(text);
    }
out:
    wf_proc_result_release(&res);
    wf_strbuf_release(&ids);
}

/* Whether every item of a packed job has been reported (its elements may still be ending):
 * nothing of it is left to cancel. */
static bool items_reported(const wf_slurm_job *j)
{
    if (j->items == NULL || j->rest != NULL)
        return false;
    for (size_t k = 0; k < j->n_items; k++) {
        if (!j->items[k].done)
            return false;
    }
    return true;
}

/* scancel for the jobs not yet cancelled; array jobs by their array id (all elements). */
static void cancel_jobs(wf_slurm_job *const *jobs, size_t n)
{
    for (size_t from = 0; from < n; from += IDS_PER_CALL) {
        size_t to = from + IDS_PER_CALL < n ? from + IDS_PER_CALL : n;
        const char **argv = wf_xcalloc(to - from + 2, sizeof(char *));
        size_t argc = 0;
        wf_proc_result res;

        wf_proc_result_init(&res);
        argv[argc++] = "scancel";
        for (size_t k = from; k < to; k++) {
            if (!jobs[k]->scancelled && jobs[k]->left > 0 && !items_reported(jobs[k]))
                argv[argc++] = jobs[k]->id;
        }
        /* scancel fails for jobs that ended meanwhile, yet cancels the others: whatever it
         * says, the poll that follows tells how each element ended. */
        if (argc > 1) {
            wf__slurm_run(argv, NULL, &res);
            for (size_t k = from; k < to; k++)
                jobs[k]->scancelled = true;
        }
        wf_proc_result_release(&res);
        free(argv);
    }
}

/* scancels the running elements that have run for their task's timeout (one call for all)
 * and marks them timed out: they end CANCELLED, reported as FAILED, timed out. Returns when
 * the poller should look next: when the next one is due, or after poll_ms when it scancelled
 * some (INT64_MAX: nothing to look for). */
static int64_t enforce_timeouts(wf_slurm_job *const *jobs, size_t n, int poll_ms)
{
    int64_t now = wf_now_ms(), next = INT64_MAX;
    const char **argv = NULL;
    char(*ids)[64] = NULL;
    size_t argc = 0, cap = 0;

    for (size_t k = 0; k < n; k++) {
        wf_slurm_job *j = jobs[k];

        if (j->timeout_ms <= 0 || j->scancelled)
            continue;
        for (size_t i = 0; i < j->n; i++) {
            wf_slurm_job_element *e = &j->el[i];
            int64_t due = e->start_ms + j->timeout_ms;

            if (e->done || !e->queued || e->start_ms == 0 || e->timed_out)
                continue;
            if (due > now) {
                next = due < next ? due : next;
                continue;
            }
            if (argc + 2 > cap) {
                cap = cap ? cap * 2 : 16;
                argv = wf_xrealloc(argv, cap * sizeof(*argv));
                ids = wf_xrealloc(ids, cap * sizeof(*ids));
            }
            if (j->is_array)
                snprintf(ids[argc], sizeof(ids[argc]), "%s_%zu", j->id, i);
            else
                snprintf(ids[argc], sizeof(ids[argc]), "%s", j->id);
            argc++;
            e->timed_out = true;
        }
    }
    if (argc > 0) {
        wf_proc_result res;

        /* ids may have moved while growing: point argv at them only now. */
        argv[0] = "scancel";
        for (size_t k = 0; k < argc; k++)
            argv[k + 1] = ids[k];
        argv[argc + 1] = NULL;
        wf_proc_result_init(&res);
        /* Whatever scancel says, the next polls tell how each element ended. */
        wf__slurm_run(argv, NULL, &res);
        wf_proc_result_release(&res);
        if (now + poll_ms < next)
            next = now + poll_ms;
    }
    free(argv);
    free(ids);
    return next;
}

/* How far the jobs have got: 2 for each element reported, 1 for each seen running, and 2
 * for each packed item reported (a running pack reports its items one by one). A poll that
 * does not change it saw nothing happen. */
static size_t progress(wf_slurm_job *const *jobs, size_t n)
{
    size_t p = 0;

    for (size_t k = 0; k < n; k++) {
        const wf_slurm_job *j = jobs[k];

        for (size_t i = 0; i < j->n; i++) {
            p += j->el[i].done ? 2 : j->el[i].start_ms > 0;
            if (j->items != NULL)
                p += 2 * (j->next[i] - i * j->pack);
        }
    }
    return p;
}

/* The longest the poller may wait while jobs with a timeout have elements left: a quarter of
 * the shortest timeout (so that an element that starts just after a poll is seen in time),
 * not below poll_ms; INT64_MAX when no job has a timeout. */
static int64_t timeout_cap(const wf_slurm *s, wf_slurm_job *const *jobs, size_t n)
{
    int64_t cap = INT64_MAX;

    for (size_t k = 0; k < n; k++) {
        if (jobs[k]->timeout_ms > 0 && jobs[k]->left > 0 && jobs[k]->timeout_ms / 4 < cap)
            cap = jobs[k]->timeout_ms / 4;
    }
    return cap < s->poll_ms ? s->poll_ms : cap;
}

/* One round: squeue for all, then scontrol (and the fallbacks) for the jobs that have
 * elements no longer queued. Returns false when squeue did not answer. */
static bool poll_once(wf_slurm *s, wf_slurm_job *const *jobs, size_t n, wf_strbuf *why)
{
    if (!poll_queue(jobs, n, why))
        return false;
    for (size_t k = 0; k < n; k++) {
        if (!any_gone(jobs[k]))
            continue;
        poll_scontrol(s, jobs[k]);
        if (any_gone(jobs[k]))
            poll_fallback(s, jobs[k]);
    }
    poll_packs(s, jobs, n);
    return true;
}

/* Reports every element left in jobs as ended in state with message note. */
static void finish_all(wf_slurm *s, wf_slurm_job *const *jobs, size_t n, const char *state,
                       const char *note)
{
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < jobs[k]->n; i++) {
            if (!jobs[k]->el[i].done)
                finish(s, jobs[k], i, state, -1, -1, note);
        }
        if (jobs[k]->rest != NULL)
            drop_rest(s, jobs[k], 0,
                      strcmp(state, "CANCELLED") == 0 ? WF_STATUS_CANCELLED : WF_STATUS_FAILED,
                      note);
    }
}

void *wf__slurm_poller(void *arg)
{
    wf_slurm *s = arg;
    wf_slurm_job **snap = NULL;
    size_t n = 0, snap_cap = 0;
    int64_t next_poll = 0, failing_since = 0, stop_at = 0, interval = s->poll_ms;
    wf_strbuf why = WF_STRBUF_INIT;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        bool cancel, stop, changed;
        size_t before;
        int64_t due;

        /* Wait for the next poll, for work, or for a cancel/stop. */
        for (;;) {
            int64_t now = wf_now_ms();
            struct timespec ts;

            if (s->submitted && next_poll > now + s->poll_ms) {
                /* A new job after a quiet spell: look at it soon. */
                interval = s->poll_ms;
                next_poll = now + s->poll_ms;
            }
            if ((s->stop && s->n_jobs == 0) || s->kick || (s->n_jobs > 0 && now >= next_poll))
                break;
            if (s->n_jobs == 0) {
                pthread_cond_wait(&s->cond, &s->mu);
                continue;
            }
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += (time_t)((next_poll - now) / 1000);
            ts.tv_nsec += (long)((next_poll - now) % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cond, &s->mu, &ts);
        }
        if (s->stop && s->n_jobs == 0)
            break;
        s->kick = false;
        changed = s->submitted;
        s->submitted = false;
        cancel = s->cancel || s->stop;
        stop = s->stop;
        if (s->n_jobs > snap_cap) {
            snap_cap = s->n_jobs;
            snap = wf_xrealloc(snap, snap_cap * sizeof(*snap));
        }
        n = s->n_jobs;
        memcpy(snap, s->jobs, n * sizeof(*snap));
        pthread_mutex_unlock(&s->mu);

        if (stop && stop_at == 0)
            stop_at = wf_now_ms() + STOP_WAIT_MS;
        if (cancel)
            cancel_jobs(snap, n);
        wf_strbuf_reset(&why);
        before = progress(snap, n);
        if (poll_once(s, snap, n, &why)) {
            failing_since = 0;
        } else if (failing_since == 0) {
            failing_since = wf_now_ms();
        } else if (wf_now_ms() - failing_since > GIVE_UP_MS) {
            char *note = wf_xasprintf("the Slurm cluster stopped answering for %d s: %s",
                                      GIVE_UP_MS / 1000, wf_strbuf_str(&why));

            cancel_jobs(snap, n);
            finish_all(s, snap, n, "FAILED", note);
            free(note);
        }
        if (stop && wf_now_ms() >= stop_at)
            finish_all(s, snap, n, "CANCELLED",
                       "Slurm did not confirm the cancellation within 30 s");
        /* Back off while nothing happens: poll_ms, doubling up to poll_max_ms; back to
         * poll_ms when an element started or ended or a job was submitted. */
        if (changed || progress(snap, n) != before)
            interval = s->poll_ms;
        else if (interval < s->poll_max_ms)
            interval = interval * 2 < s->poll_max_ms ? interval * 2 : s->poll_max_ms;
        if (interval > timeout_cap(s, snap, n))
            interval = timeout_cap(s, snap, n);
        due = cancel ? INT64_MAX : enforce_timeouts(snap, n, s->poll_ms);
        next_poll = wf_now_ms() + (cancel && interval > 200 ? 200 : interval);
        if (due < next_poll)
            next_poll = due;

        atomic_fetch_add(&s->polls, 1);
        pthread_mutex_lock(&s->mu);
        /* Drop the jobs with nothing left to report; new ones may have been appended. */
        for (size_t k = 0; k < s->n_jobs;) {
            if (s->jobs[k]->left == 0) {
                wf__slurm_job_free(s->jobs[k]);
                s->jobs[k] = s->jobs[--s->n_jobs];
            } else {
                k++;
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    free(snap);
    wf_strbuf_release(&why);
    return NULL;
}
