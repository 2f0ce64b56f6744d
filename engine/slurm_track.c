/*
 * slurm_track.c: following what was submitted, on the poller thread (wf__slurm_poller). Each
 * poll asks `squeue` about every job at once; for the elements no longer queued, `scontrol
 * show job -o`, then `sacct` and the rc.i file the wrapper wrote, say how they ended. Each
 * element that ended is reported once through the done callback (wf__slurm_finish), with its output
 * files read and removed. cancel and stop (slurm.c) reach the poller through flags; it
 * scancels the jobs and reports them as they end. The poller also enforces each task's
 * timeout (it scancels an element that has run that long: Slurm's --time only has whole
 * minutes), and backs off: poll_ms between polls, doubling while nothing changes up to
 * poll_max_ms, and never so long that a timeout would be missed. A packed job's items are
 * reported one by one as their rc files appear, the rest of an element when it ends, and
 * pack: auto's waiting items are sized and submitted, all in slurm_finish.c. Packed elements
 * are not cut at the task's timeout: each item has its own.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slurm_internal.h"

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
                wf__slurm_finish(s, j, (size_t)i, rec->state, -1, 0, NULL);
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
        wf__slurm_finish(s, j, (size_t)idx, rec.state, rec.exit_code, rec.run_time_ms, NULL);
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
        wf__slurm_finish(s, j, (size_t)idx, f1, wf__slurm_parse_exit(f2), -1, "state from sacct");
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
        if (wf__slurm_read_capped(path, 32, &text, &trunc)) {
            int code = (int)wf__slurm_parse_num(text, strcspn(text, "\n"));

            wf__slurm_finish(s, j, i, code == 0 ? "COMPLETED" : "FAILED", code, -1,
                             "Slurm no longer knew the job; exit status from its rc file");
        } else if (++e->missing >= MISSING_POLLS) {
            wf__slurm_finish(
                s, j, i, j->scancelled ? "CANCELLED" : "FAILED", -1, -1,
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
    wf__slurm_poll_packs(s, jobs, n);
    return true;
}

/* Reports every element left in jobs as ended in state with message note. */
static void finish_all(wf_slurm *s, wf_slurm_job *const *jobs, size_t n, const char *state,
                       const char *note)
{
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < jobs[k]->n; i++) {
            if (!jobs[k]->el[i].done)
                wf__slurm_finish(s, jobs[k], i, state, -1, -1, note);
        }
        if (jobs[k]->rest != NULL)
            wf__slurm_drop_rest(
                s, jobs[k], 0,
                strcmp(state, "CANCELLED") == 0 ? WF_STATUS_CANCELLED : WF_STATUS_FAILED, note);
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
        /* Before the first job both are NULL: memcpy must not see them (UBSan). */
        if (n > 0)
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
