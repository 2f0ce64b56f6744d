#!/usr/bin/env bash
# wfengine report RUN|last -o FILE.html: one self-contained HTML page (summary, filters, the
# failures with their output's tails, a timeline as inline SVG, a table with fan-outs folded).
# Checked as text first (failures, ignored, retries, skip reasons, truncated tails, secrets,
# caps, running, killed and fail-fast runs, bad arguments), then in headless Chromium: a script
# appended to a copy of the page drives it after its own script ran (filters, a fan-out's
# button, links) and writes what it saw into the DOM, which --dump-dom gives back; the page of
# 100,000 units (10,000 under sanitizers or WF_E2E_SCALE) is loaded and timed the same way (the
# figures are printed). A screenshot is kept (in $WF_ARTIFACTS_DIR, else
# $WF_BUILD_DIR/e2e-artifacts; the path is printed). Chromium is installed when missing only
# under CI or WF_BROWSER_TESTS; otherwise that part is skipped with a "skip:" line.
# ctest-cost: 22 (about its seconds in its slowest CI stage; see CMakeLists.txt)
. "$(dirname "$0")/lib.sh"

# A file name with every character HTML cares about: it appears in the page's header.
wf_file='we<i>rd&"q'"'"'.yaml'
cat > "$wf_file" <<'Y'
version: 1
name: report-demo
inputs:
  token: {type: string, secret: true}
tasks:
  prepare:
    run: echo ready
  items:
    needs: [prepare]
    with-items:
      - {n: 0, on: true}
      - {n: 1, on: true}
      - {n: 2, on: true}
      - {n: 3, on: false}
      - {n: 4, on: true}
      - {n: 5, on: true}
    when: << item.on >>
    run: sleep 0.<< item.n >>; echo "out of << item.n >>"; echo "err of << item.n >>" >&2; test << item.n >> != 2 && test << item.n >> != 5
  flaky:
    needs: [prepare]
    retry: 2
    run: if [ -e flag ]; then echo ok; else touch flag; echo "first try fails" >&2; exit 3; fi
  soft:
    continue-on-error: true
    run: echo "soft out"; echo "soft err" >&2; exit 4
  leak:
    run: |
      echo "token on stderr: << inputs.token >>" >&2
      seq 1 5000
      echo "token is << inputs.token >>"
      printf '\033[31mred text\033[0m\n'
      exit 7
  after:
    needs: [items]
    run: echo never
  broken:
    action: core.fail
    input: {message: "<script>alert(1)</script> & 'x' \"y\""}
Y
secret='s3cr3t-T0ken-value'
run_wf run "$wf_file" --progress none -i token="$secret"
expect_rc "the workflow fails (two items and two tasks fail)" 1

run_wf report last -o r.html
expect_rc "report last -o r.html" 0
expect_in "says where it wrote" err.txt "r.html"
[ -s r.html ] && pass "the page is written" || fail "r.html is empty or missing"
if grep -qiE 'https?://|src=|<link|@import|url\(' r.html; then
    fail "nothing external" "$(grep -oiE '.{0,40}(https?://|src=|<link|@import|url\().{0,40}' r.html | head -5)"
else pass "no URL, src=, link, @import or url() in the page"; fi
scripts=$({ grep -o '<script' r.html || true; } | wc -l)
[ "$scripts" -eq 1 ] && pass "one inline script" || fail "$scripts <script> tags, want 1"
expect_in "a doctype" r.html "<!DOCTYPE html>"
expect_in "the workflow's name" r.html "report-demo"
expect_in "the run's status" r.html '<span class="badge status s-failed" id="run-status">failed</span>'
expect_in "the file name, escaped" r.html 'we&lt;i&gt;rd&amp;&quot;q&#39;.yaml'
expect_not_in "the file name's markup is not live" r.html '<i>rd'
expect_in "the file's sha256" r.html "$(sha256sum "$wf_file" | cut -c1-64)"
expect_in "the table" r.html '<table id="units-table">'
expect_in "a plain task's row, with its anchor" r.html '<tr class="unit" data-s="succeeded" id="prepare"><td class="name"><a href="#prepare">prepare</a>'
expect_in "the fan-out is one folded group" r.html '<tbody class="grp fan">'
expect_in "its summary row, with its counts" r.html '<tr class="task" data-s="failed" id="items">'
expect_in "... per state" r.html '<span class="badge s-succeeded">3 succeeded</span> <span class="badge s-failed">2 failed</span> <span class="badge s-skipped">1 skipped</span>'
for i in 0 1 3 4; do expect_in "item row items[$i] with its anchor" r.html "id=\"items/$i\"><td class=\"name\"><a href=\"#items/$i\">items[$i]</a>"; done
for i in 2 5; do expect_in "failed item items[$i] links to its failure" r.html "<tr class=\"unit item\" data-s=\"failed\"><td class=\"name\"><a href=\"#items/$i\">items[$i]</a>"; done
expect_in "the skipped item" r.html '<a href="#items/3">items[3]</a></td><td class="t-skipped">skipped</td>'
expect_in "a task that never ran, with why" r.html "dependency &#39;items&#39; failed"
expect_in "a skipped item, with why" r.html '<td class="err">when was false</td>'

expect_in "counts per state" r.html 'id="unit-counts">12: <span class="badge s-succeeded">5 succeeded</span>'
expect_in "an error with markup, escaped" r.html '&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;x&#39; &quot;y&quot;'

# Retries: the earlier attempt is "failed, retried", in the table and on the timeline.
expect_in "the retried unit succeeded, 2 attempts listed" r.html '<details class="att"><summary>2</summary><ol class="attempts"><li>attempt 1: <span class="t-retried">failed, retried</span>, exit 3'
expect_in "the timeline draws the first attempt as retried" r.html '<title>flaky: failed, retried, '
expect_not_in "... never as a failure" r.html '<title>flaky: failed, 1'
expect_in "the legend names the retried colour" r.html '</i>failed, retried'

# The failures section: every unit that did not succeed, failures first, each with its logs.
expect_in "the failures section" r.html '<section id="failures">'
fails=$(sed -n '/<section id="failures">/,/<\/section>/p' r.html | grep -o '<li class="fail" data-s="[a-z]*" id="[^"]*"' | sed 's/.*data-s="\([a-z]*\)" id="\([^"]*\)"/\2:\1/' | tr '\n' ' ')
if [ "$fails" = "items/2:failed items/5:failed leak:failed broken:failed soft:ignored " ]; then
    pass "failures: $fails"
else fail "failures listed: '$fails'" "want items/2, items/5, leak, broken failed, then soft ignored"; fi
expect_in "soft is failed, ignored" r.html '<span class="badge s-ignored">failed, ignored</span>'
expect_in "a failure's stderr tail" r.html '<pre>err of 2'
expect_in "a failure's stdout tail" r.html '<pre>out of 2'
expect_in "an ignored failure's output" r.html '<pre>soft err'
expect_in "the first failure's log is unfolded" r.html '<details class="log" open><summary>stderr'
expect_in "a long stdout is cut, visibly" r.html 'stdout <span class="mark">5002 lines, 23.4 KiB</span> <span class="trunc">truncated</span>'
expect_in "... saying how much and where to get it" r.html 'truncated: the first '
run_id=$("$WFENGINE" show last --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
expect_in "... and where to get all of it" r.html "are; all of it: <code>wfengine logs $run_id leak</code>"
leak_tail=$(sed -n '/id="leak"/,/<\/li>/p' r.html)
case "$leak_tail" in *$'\n4999\n5000\ntoken is ***\nred text\n'*) pass "the tail ends with the last lines, colours stripped";; *) fail "the tail of leak's stdout" "$(printf '%s' "$leak_tail" | tail -n 5)";; esac
case "$leak_tail" in *$'\n1\n2\n3\n'*) fail "the head of a long stdout is in the page";; *) pass "the head of a long stdout is not";; esac
expect_not_in "no escape bytes left of the colours" r.html '[31m'
# Secrets: the engine masks the blobs it stores; the page shows what the store holds.
expect_not_in "the secret is not in the page" r.html "$secret"
expect_in "it is masked in stdout" r.html 'token is ***'
expect_in "and in stderr" r.html 'token on stderr: ***'

expect_in "an inline SVG" r.html '<svg viewBox='
expect_in "timeline tooltips name NAME[INDEX], status and duration" r.html '<title>items[2]: failed, '
expect_in "the x axis in seconds" r.html '>0s</text>'
expect_in "a failed unit's bar links to its entry" r.html '<a href="#items/2"><rect class="bar"'
expect_in "a task's name links to it" r.html '<a href="#flaky"><text class="task"'
bars=$({ grep -o '<rect class="bar"' r.html || true; } | wc -l)
if [ "$bars" -ge 8 ]; then pass "timeline bars ($bars)"; else fail "timeline bars: $bars, want at least 8"; fi

run_wf report last -o -
expect_rc "-o - writes to stdout" 0
if cmp -s out.txt r.html; then pass "stdout page is the same page"; else fail "-o - differs from the file"; fi
run_wf report last
expect_rc "-o is required" 2
expect_in "and says so" err.txt "-o FILE.html is required"
run_wf report nosuchrun -o x.html
expect_rc "an unknown run" 2
expect_in "names the run" err.txt "nosuchrun"
[ ! -e x.html ] && pass "no page for an unknown run" || fail "x.html written for an unknown run"
run_wf report last -o no/such/dir/x.html
expect_rc "a file that cannot be written" 2
expect_in "names the path and the cause" err.txt "cannot write no/such/dir/x.html: No such file or directory"
[ ! -e no/such/dir/x.html.tmp ] && pass "no temporary file left" || fail "x.html.tmp left"
mkdir ro && chmod 555 ro
if [ "$(id -u)" -ne 0 ]; then
    run_wf report last -o ro/x.html
    expect_rc "a directory that cannot be written" 2
    expect_in "says permission denied" err.txt "cannot write ro/x.html: Permission denied"
fi
run_wf report last -o x.html --store nowhere
expect_rc "no store there" 3
run_wf help report
expect_rc "help report" 0
expect_in "help shows the usage" out.txt "usage: wfengine report RUN|last -o FILE.html"

# A run still running, then killed: the page says so instead of pretending it ended.
cat > slow.yaml <<'Y'
version: 1
name: slow
tasks:
  quick:
    run: echo quick
  long:
    needs: [quick]
    with-items: [1, 2, 3]
    concurrency: 1
    run: sleep 20
Y
"$WFENGINE" run slow.yaml --progress none >slow.out 2>&1 &
slow_pid=$!
quick_recorded() {
    "$WFENGINE" show last --json 2>/dev/null | tr -d ' \n' | grep -q '"status":"running".*"name":"quick","status":"succeeded"'
}
wait_for 60 quick_recorded || fail "the run never recorded its quick task"
run_wf report last -o live.html
expect_rc "report of a running run" 0
expect_in "says it is running" live.html 'id="run-status">running</span>'
expect_in "and that it has not ended" live.html 'id="still-running">This run has not ended'
expect_in "the duration is not made up" live.html '(the run did not end)'
sleep_pids=$(cat /proc/$slow_pid/task/*/children 2>/dev/null || true)
kill -9 "$slow_pid"
wait "$slow_pid" 2>/dev/null || true
for p in $sleep_pids; do kill "$p" 2>/dev/null || true; done
run_wf report last -o dead.html
expect_rc "report of a killed run" 0
expect_in "says it was interrupted" dead.html 'id="run-status">interrupted</span>'
expect_in "and how to go on" dead.html 'wfengine run slow.yaml --resume'
expect_in "the items without a record are counted as interrupted" dead.html 'id="unit-counts">4: <span class="badge s-succeeded">1 succeeded</span> <span class="badge s-interrupted">3 interrupted</span>'
expect_in "... and named, without claiming they never started" dead.html '3 of its 3 items did not end</span>'
expect_in "... with their indexes" dead.html '<div class="idx">indexes: 0-2</div>'

# fail-fast: the items that never started have no record in the store; the page counts them as
# cancelled and names them in one entry of the failures.
cat > ff.yaml <<'Y'
version: 1
name: ff
tasks:
  many:
    with-items: << range(40) >>
    concurrency: 1
    fail-fast: true
    run: if [ << item >> = 3 ]; then echo boom >&2; exit 1; fi
Y
run_wf run ff.yaml --progress none
expect_rc "a fail-fast fan-out" 1
run_wf report last -o ff.html
expect_rc "its report" 0
expect_in "every item is counted" ff.html 'id="unit-counts">40: <span class="badge s-succeeded">3 succeeded</span> <span class="badge s-failed">1 failed</span> <span class="badge s-cancelled">36 cancelled</span>'
expect_in "the failures name the items that never started" ff.html '<li class="fail fold" data-s="cancelled" data-task="many" data-from="4" data-to="39">'
expect_in "... how many" ff.html '36 of its 40 items never started'
expect_in "... and which" ff.html '<div class="idx">indexes: 4-39</div>'
expect_in "the fan-out's row says so too" ff.html '36 items of many never started (no record in the store): 4-39'

# Many items: the table lists 5,000 of those that succeeded and every one that failed, however
# far past the cap; the timeline stays bounded.
cat > big.yaml <<'Y'
version: 1
name: big
tasks:
  many:
    with-items: << range(6000) >>
    action: core.value
    input: {value: << 10 / (item - 5500) >>}
Y
run_wf run big.yaml --progress none
expect_rc "6000 items, one fails" 1
run_wf report last -o big.html
expect_rc "report of 6000 items" 0
expect_in "the page says the table is cut" big.html 'the table lists every one that failed, was interrupted or was cancelled after it started (1), the first 5000 of the others'
expect_in "the rest is counted" big.html '999 more items of many not listed (many[5000] to many[5999]): 999 succeeded'
expect_in "the failure past the cap is in the table" big.html '<a href="#many/5500">many[5500]</a></td><td class="t-failed">failed</td>'
expect_in "and in the failures" big.html '<li class="fail" data-s="failed" id="many/5500">'
expect_in "with its error" big.html 'input: division by zero'
rows=$(grep -c '<tr class="unit item"' big.html || true)
if [ "$rows" -eq 5001 ]; then pass "5001 item rows"; else fail "item rows: $rows, want 5001"; fi
size=$(wc -c < big.html)
if [ "$size" -lt 4000000 ]; then pass "the page stays small ($size bytes)"; else fail "big.html is $size bytes"; fi

# Thousands of failures: all listed, the first 1,000 with their logs, the others one line
# each; the table lists 5,000 of them and counts the rest.
cat > fails.yaml <<'Y'
version: 1
name: fails
tasks:
  many:
    with-items: << range(6000) >>
    action: core.fail
    input: {message: "item << item >> broke"}
Y
run_wf run fails.yaml --progress none
expect_rc "6000 failures" 1
run_wf report last -o fails.html
expect_rc "their report" 0
full=$(grep -c '^<li class="fail" data-s="failed"' fails.html || true)
compact=$(grep -c '^<li class="fail c" data-s="failed"' fails.html || true)
if [ "$full" -eq 1000 ] && [ "$compact" -eq 5000 ]; then pass "1000 full entries, 5000 one-line ones"
else fail "failure entries: $full full, $compact one-line, want 1000 and 5000"; fi
expect_in "the last one is listed, with its error" fails.html '<li class="fail c" data-s="failed" id="many/5999">many[5999] · failed · item 5999 broke</li>'
expect_in "the one-line entries say where the logs are" fails.html 'The units below are listed one line each (the first 1000 have their logs)'
expect_in "the table says it lists 5000 of the failures" fails.html '(6000: the first 5000, and Failures lists every one)'
expect_in "and counts the others" fails.html '1000 more items of many not listed (many[5000] to many[5999]): 1000 failed'
size=$(wc -c < fails.html)
if [ "$size" -lt 6000000 ]; then pass "the page stays small ($size bytes)"; else fail "fails.html is $size bytes"; fi

# ---- in a browser ----
browser=$(command -v chromium || true)
if [ -z "$browser" ] && { [ -n "${CI:-}" ] || [ -n "${WF_BROWSER_TESTS:-}" ]; }; then
    echo "installing chromium (Debian's package)"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    { $sudo_cmd apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends chromium; } \
        >apt.log 2>&1 || fail "installing chromium" "$(tail -n 20 apt.log)"
    browser=$(command -v chromium || true)
fi
if [ -z "$browser" ]; then
    echo "skip: chromium is not installed (set WF_BROWSER_TESTS=1 or CI to install it)"
    done_testing
    exit $?
fi

# chrome ARGS...: headless Chromium with nothing that reaches the network, a fresh profile.
chrome() {
    timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-extensions --hide-scrollbars --user-data-dir="$(mktemp -d "$T/profile.XXXXXX")" \
        "$@" 2>>chrome.err
}

# drive NAME PAGE HASH: loads a copy of PAGE with the script on stdin appended (it runs after
# the page's own script) at #HASH, lets timers and hashchange run, and prints what the script
# wrote into <pre id="verdict">.
drive() {
    { sed 's#</body>##; s#</html>##' "$2"; printf '<script>\n'; cat; printf '</script>\n</body></html>\n'; } > "$1.html"
    chrome --virtual-time-budget=5000 --dump-dom "file://$T/$1.html$3" > "$1.dom" || true
    grep -o '<pre id="verdict">[^<]*' "$1.dom" | sed 's/.*>//' || true
}
# The helpers every driver starts with: the visible rows' names and failures' ids, a verdict.
cat > helpers.js <<'JS'
var d = document, log = [];
function vis(el) { return !!el && el.getClientRects().length > 0; }
function names() {
  return [].filter.call(d.querySelectorAll('#units-table tr.unit'), vis)
    .map(function (r) { return r.querySelector('td').textContent; }).join(' ');
}
function fails() {
  return [].filter.call(d.querySelectorAll('li.fail'), vis)
    .map(function (f) { return f.id || f.getAttribute('data-task'); }).join(' ');
}
function verdict() {
  var out = d.createElement('pre');
  out.id = 'verdict';
  out.textContent = log.join(' | ');
  d.body.appendChild(out);
}
JS
# expect_verdict DESC VERDICT TEXT: the verdict holds TEXT.
expect_verdict() {
    case "$2" in *"$3"*) pass "$1";; *) fail "$1: '$3' not in the verdict" "$2 $(tail -n 5 chrome.err)";; esac
}

# Layout, checked by the browser itself, then the filters and a link, driven as a user would.
v=$({ cat helpers.js; cat <<'JS'; } | drive check r.html ''
var bad = [];
var svg = d.querySelector('#timeline svg');
var rects = svg ? svg.querySelectorAll('rect.bar') : [];
var box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
if (!svg || !(svg instanceof SVGSVGElement)) bad.push('no SVG element');
if (box.width < 600 || box.height < 80) bad.push('svg is ' + box.width + 'x' + box.height);
if (rects.length < 8) bad.push(rects.length + ' bars');
Array.prototype.forEach.call(rects, function (r) {
  var b = r.getBoundingClientRect();
  if (b.width <= 0 || b.height <= 0) bad.push('an empty bar');
  if (b.left < box.left - 1 || b.right > box.right + 1) bad.push('a bar outside the svg');
  if (!r.querySelector('title')) bad.push('a bar without a title');
});
if (d.querySelectorAll('script').length !== 2) bad.push('markup from an error is live');
var st = d.getElementById('run-status');
if (!st || getComputedStyle(st).backgroundColor !== 'rgb(207, 34, 46)') bad.push('run status colour');
var ig = d.querySelector('.badge.s-ignored');
if (ig && getComputedStyle(ig).backgroundColor !== 'rgb(191, 135, 0)') bad.push('ignored colour');
if (d.querySelector('header i')) bad.push('markup from the file name is live');
log.push(bad.length ? 'BROKEN: ' + bad.join('; ') : 'LAYOUT-OK');
log.push('start=' + names());
var boxes = [].slice.call(d.querySelectorAll('#filters input[type=checkbox]'));
boxes.forEach(function (b) { b.checked = b.value === 'failed'; });
boxes[0].dispatchEvent(new Event('change'));
log.push('failed=' + names());
log.push('failures=' + fails());
log.push('shown=' + d.getElementById('shown').textContent);
log.push('url=' + location.hash);
boxes.forEach(function (b) { b.checked = true; });
var q = d.getElementById('q');
q.value = 'ERR OF 4';
q.dispatchEvent(new Event('input'));
log.push('text=' + names());
q.value = '';
q.dispatchEvent(new Event('input'));
log.push('cleared=' + names());
d.querySelector('tbody.fan button.tg').click();
log.push('unfolded=' + names());
d.querySelector('tbody.fan button.tg').click();
var pres = function () { return [].slice.call(d.querySelectorAll('[id="items/1"] details.log pre')); };
log.push('log-before=' + pres().some(vis));
// Then the filter a link carries (#status=...&q=...), as read on load or on a change of the
// fragment: each step waits for the page's own hashchange handler, registered before ours.
var steps = [
  ['items/1', function () {
    log.push('log-after=' + (pres().length === 2 && pres().every(vis)) + ' ' +
             pres().map(function (p) { return p.textContent.trim(); }).join(',') +
             ' target=' + d.querySelector('.target').id);
  }],
  ['status=succeeded,skipped&q=out%20of', function () {
    log.push('hash1 rows=' + names() + ' failures=' + fails());
  }],
  ['status=ignored,skipped', function () {
    log.push('hash2 rows=' + names() + ' failures=' + fails());
  }]
];
window.addEventListener('hashchange', function () {
  steps.shift()[1]();
  if (steps.length) location.hash = steps[0][0]; else verdict();
});
location.hash = steps[0][0];
JS
)
expect_in "the browser's DOM has the table" check.dom '<table id="units-table"'
expect_in "the browser's DOM has the svg" check.dom '<svg viewBox='
expect_in "the browser's DOM has the bars" check.dom '<rect class="bar"'
expect_in "the escaped file name is text in the DOM" check.dom 'we&lt;i&gt;rd&amp;"q'"'"'.yaml'
expect_verdict "the page lays out in Chromium" "$v" "LAYOUT-OK"
expect_verdict "the fan-out starts folded" "$v" "start=prepare flaky soft leak after broken |"
expect_verdict "the state filter shows only failed units" "$v" "failed=items[2] items[5] leak broken |"
expect_verdict "... and only failed entries of the failures" "$v" "failures=items/2 items/5 leak broken |"
expect_verdict "... says how many it shows" "$v" "shown=showing 4 of 12 rows, 4 of 5 failures"
expect_verdict "... and keeps the filter in the URL" "$v" "url=#status=failed |"
expect_verdict "the text filter finds an item by its output" "$v" "text=items[4] |"
expect_verdict "clearing it folds the fan-out again" "$v" "cleared=prepare flaky soft leak after broken |"
expect_verdict "the button unfolds the fan-out" "$v" "unfolded=prepare items[0] items[1] items[2] items[3] items[4] items[5] flaky"
expect_verdict "a unit's log is folded" "$v" "log-before=false"
expect_verdict "#items/1 unfolds its fan-out, opens its log and marks it" "$v" "log-after=true err of 1,out of 1 target=items/1"

expect_verdict "#status=succeeded,skipped&q=out%20of filters" "$v" "hash1 rows=items[0] items[1] items[4] failures= |"
expect_verdict "#status=ignored,skipped: the ignored failure and the skipped units" "$v" "hash2 rows=items[3] soft after failures=soft"

# 100,000 units (10,000 under sanitizers or WF_E2E_SCALE): how big the page is and how long
# Chromium takes to load it and to run a filter (docs/cli.md keeps the figures).
n_big=100000
if [ "${WF_E2E_SCALE:-1}" -gt 1 ] || [ -n "${ASAN_OPTIONS:-}${TSAN_OPTIONS:-}" ]; then n_big=10000; fi
sed "s/range(6000)/range($n_big)/; s/item - 5500/item - $((n_big - 7))/" big.yaml > huge.yaml
run_wf run huge.yaml --progress none
expect_rc "$n_big items" 1
t_start=$(date +%s%N)
run_wf report last -o huge.html
t_gen=$(( ($(date +%s%N) - t_start) / 1000000 ))
expect_rc "report of $n_big items" 0
huge_size=$(wc -c < huge.html)
v=$({ cat helpers.js; cat <<'JS'; } | drive hugecheck huge.html "#many/$((n_big - 7))"
d.body.getBoundingClientRect();
var loaded = performance.now();
var t = d.querySelector('.target');
log.push('target=' + (t ? t.id + ' ' + vis(t) : 'none'));
log.push('in-table=' + !!d.querySelector('#units-table a[href="#' + t.id + '"]'));
var boxes = [].slice.call(d.querySelectorAll('#filters input[type=checkbox]'));
boxes.forEach(function (b) { b.checked = b.value !== 'succeeded'; });
var t0 = performance.now();
boxes[0].dispatchEvent(new Event('change'));
d.body.getBoundingClientRect();
log.push('load-ms=' + Math.round(loaded) + ' filter-ms=' + Math.round(performance.now() - t0) +
         ' rows=' + d.querySelectorAll('#units-table tr').length + ' shown=' + names());
window.addEventListener('hashchange', function () {
  var n = d.getElementById('hash-note');
  log.push('note=' + vis(n) + ' ' + n.textContent);
  verdict();
});
location.hash = 'many/' + (+t.id.split('/')[1] + 6);
JS
)
echo "report of $n_big units: $huge_size bytes, written in ${t_gen}ms; in Chromium: $v"
load_ms=$(printf '%s' "$v" | sed -n 's/.*load-ms=\([0-9]*\).*/\1/p')
expect_verdict "the failure among $n_big units is found by the filter" "$v" "shown=many[$((n_big - 7))]"
expect_verdict "#many/$((n_big - 7)) (past the cap) is in the failures and marked" "$v" "target=many/$((n_big - 7)) true"
expect_verdict "... and in the table" "$v" "in-table=true"
expect_verdict "#many/$((n_big - 1)) (left out) says so" "$v" "note=true many/$((n_big - 1)): not on this page (the table lists only part of this run"
if [ "$huge_size" -lt 6000000 ]; then pass "the page of $n_big units is $huge_size bytes"; else fail "huge.html is $huge_size bytes"; fi
if [ -n "$load_ms" ] && [ "$load_ms" -lt 15000 ]; then pass "Chromium loads it in ${load_ms}ms"; else fail "loading $n_big units: '${load_ms}' ms"; fi

# The screenshot, kept for people to look at.
chrome --screenshot="$T/report.png" --window-size=1280,900 "file://$T/r.html" >/dev/null || true
png_size=$(stat -c %s report.png 2>/dev/null || echo 0)
if [ "$(head -c 8 report.png 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
   [ "$png_size" -gt 20000 ]; then
    pass "screenshot taken ($png_size bytes)"
else
    fail "screenshot: $png_size bytes" "$(tail -n 20 chrome.err)"
fi
dest=${WF_ARTIFACTS_DIR:-${WF_BUILD_DIR:-$WF_SOURCE_DIR}/e2e-artifacts}
if mkdir -p "$dest" && cp r.html "$dest/report.html" && cp report.png "$dest/report.png" 2>/dev/null; then
    echo "screenshot: $dest/report.png ($png_size bytes), page: $dest/report.html"
fi
done_testing
