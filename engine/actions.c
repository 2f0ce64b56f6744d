/* The built-in actions core.noop, core.echo, core.fail, core.sleep and core.value. They run on
 * worker threads through the same interface embedding programs use (wfengine.h). */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <string.h>

#include "wf_template.h"

#include "engine_internal.h"

/* The input field called key, or NULL (also when there is no input). */
static const json_object *field(const wf_action_call *call, const char *key, bool *present)
{
    json_object *v = NULL;

    *present =
        call->input != NULL && json_object_object_get_ex((json_object *)call->input, key, &v);
    return v;
}

static int noop(const wf_action_call *call, wf_action_reply *reply, void *user)
{
    (void)call;
    (void)reply;
    (void)user;
    return WF_OK;
}

static int echo(const wf_action_call *call, wf_action_reply *reply, void *user)
{
    bool present;
    const json_object *msg = field(call, "message", &present);
    wf_strbuf sb = WF_STRBUF_INIT;

    (void)user;
    if (!present) {
        reply->error = wf_xstrdup("core.echo needs input.message");
        return WF_EINVAL;
    }
    wf_tpl_text_form(&sb, msg);
    reply->log = wf_strbuf_detach(&sb, NULL);
    reply->result = wf_json_copy(msg);
    return WF_OK;
}

static int fail(const wf_action_call *call, wf_action_reply *reply, void *user)
{
    bool present;
    const json_object *msg = field(call, "message", &present);
    wf_strbuf sb = WF_STRBUF_INIT;

    (void)user;
    if (present && msg != NULL)
        wf_tpl_text_form(&sb, msg);
    else
        wf_strbuf_adds(&sb, "core.fail was called");
    reply->error = wf_strbuf_detach(&sb, NULL);
    return WF_EFAILED;
}

static int sleep_action(const wf_action_call *call, wf_action_reply *reply, void *user)
{
    bool present;
    const json_object *secs = field(call, "seconds", &present);
    json_type type = json_object_get_type(secs);
    double s;
    int64_t end;

    (void)user;
    if (!present || (type != json_type_int && type != json_type_double)) {
        reply->error = wf_xasprintf("core.sleep needs input.seconds, a number of seconds (got %s)",
                                    present ? wf_json_type_name(secs) : "nothing");
        return WF_EINVAL;
    }
    s = json_object_get_double(secs);
    if (!(s >= 0) || s > 1e9) {
        reply->error = wf_xasprintf("core.sleep: seconds must be between 0 and 1e9 (got %g)", s);
        return WF_EINVAL;
    }
    end = wf_now_ms() + (int64_t)llround(s * 1000.0);
    /* Sleep on the cancel fd so that a stop ends the sleep at once. */
    for (;;) {
        int64_t now = wf_now_ms(), wait = end - now;
        struct pollfd pfd = { .fd = call->cancel_fd, .events = POLLIN };
        bool timeout_first = call->deadline_ms > 0 && call->deadline_ms < end;

        if (timeout_first)
            wait = call->deadline_ms - now;
        if (wait <= 0) {
            if (!timeout_first)
                return WF_OK;
            reply->timed_out = true;
            reply->error = wf_xstrdup("timed out");
            return WF_ETIMEOUT;
        }
        if (poll(&pfd, 1, wait > 1000000 ? 1000000 : (int)wait) > 0) {
            reply->cancelled = true;
            reply->error = wf_xstrdup("cancelled");
            return WF_ECANCELLED;
        }
    }
}

static int value(const wf_action_call *call, wf_action_reply *reply, void *user)
{
    bool present;
    const json_object *v = field(call, "value", &present);

    (void)user;
    if (!present) {
        reply->error = wf_xstrdup("core.value needs input.value");
        return WF_EINVAL;
    }
    reply->result = wf_json_copy(v);
    return WF_OK;
}

const wf_core_action wf__core_actions[] = {
    { "core.noop", noop },          { "core.echo", echo },   { "core.fail", fail },
    { "core.sleep", sleep_action }, { "core.value", value }, { NULL, NULL },
};
