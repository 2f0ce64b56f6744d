#!/usr/bin/env bash
# wfengine report RUN|last -o FILE.html: one self-contained HTML page (summary, a table of every
# task and item, a timeline as inline SVG). Checked as text first, then loaded in headless
# Chromium: the page must lay out (a visible SVG with one bar per unit, the table, the status
# colours), and a screenshot is kept (in $WF_ARTIFACTS_DIR, else $WF_BUILD_DIR/e2e-artifacts).
# Chromium is installed when missing only under CI or WF_BROWSER_TESTS; otherwise that part is
# skipped with a "skip:" line.
. "$(dirname "$0")/lib.sh"

# A file name with every character HTML cares about: it appears in the page's header.
wf_file='we<i>rd&"q'"'"'.yaml'
cat > "$wf_file" <<'Y'
version: 1
name: report-demo
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
    run: sleep 0.<< item.n >>; test << item.n >> != 2 && test << item.n >> != 5
  flaky:
    needs: [prepare]
    retry: 2
    run: if [ -e flag ]; then echo ok; else touch flag; exit 3; fi
  after:
    needs: [items]
    run: echo never
  broken:
    action: core.fail
    input: {message: "<script>alert(1)</script> & 'x' \"y\""}
Y
run_wf run "$wf_file" --progress none
expect_rc "the workflow fails (two items and a task fail)" 1

run_wf report last -o r.html
expect_rc "report last -o r.html" 0
expect_in "says where it wrote" err.txt "r.html"
[ -s r.html ] && pass "the page is written" || fail "r.html is empty or missing"
if grep -qiE 'https?://|src=|<link|<script|@import|url\(' r.html; then
    fail "nothing external" "$(grep -oiE '.{0,40}(https?://|src=|<link|<script|@import|url\().{0,40}' r.html | head -5)"
else pass "no URL, src=, link, script, @import or url() in the page"; fi
expect_in "a doctype" r.html "<!DOCTYPE html>"
expect_in "the workflow's name" r.html "report-demo"
expect_in "the run's status" r.html '<span class="badge status s-failed" id="run-status">failed</span>'
expect_in "the file name, escaped" r.html 'we&lt;i&gt;rd&amp;&quot;q&#39;.yaml'
expect_not_in "the file name's markup is not live" r.html '<i>rd'
expect_in "the file's sha256" r.html "$(sha256sum "$wf_file" | cut -c1-64)"
expect_in "the table" r.html '<table id="units-table">'
expect_in "a plain task's row" r.html '<tr class="task-unit"><td>prepare</td>'
for i in 0 1 2 3 4 5; do expect_in "item row items[$i]" r.html "<tr class=\"unit\"><td>items[$i]</td>"; done
expect_in "a failed item with its exit code and error" r.html \
    '<td class="t-failed">failed</td><td class="num">1</td>'
expect_in "the skipped item" r.html '<tr class="unit"><td>items[3]</td><td class="t-skipped">skipped</td>'
expect_in "the retry: 2 attempts, earlier ones in the tooltip" r.html 'title="attempt 1: failed, exit code 3">2</td>'
expect_in "a task that never ran, with why" r.html "dependency &#39;items&#39; failed"
expect_in "counts per status" r.html 'id="unit-counts">10: <span class="badge s-succeeded">5 succeeded</span> <span class="badge s-failed">3 failed</span> <span class="badge s-skipped">2 skipped</span>'
expect_in "an error with markup, escaped" r.html '&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;x&#39; &quot;y&quot;'
expect_in "an inline SVG" r.html '<svg viewBox='
expect_in "timeline tooltips name NAME[INDEX], status and duration" r.html '<title>items[2]: failed, '
expect_in "each attempt of a retry is drawn" r.html '<title>flaky: failed, '
expect_in "the x axis in seconds" r.html '>0s</text>'
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
run_wf report last -o no/such/dir/x.html
expect_rc "a file that cannot be written" 2
expect_in "names the path and the cause" err.txt "cannot write no/such/dir/x.html: No such file or directory"
[ ! -e no/such/dir/x.html.tmp ] && pass "no temporary file left" || fail "x.html.tmp left"
run_wf report last -o x.html --store nowhere
expect_rc "no store there" 3
run_wf help report
expect_rc "help report" 0
expect_in "help shows the usage" out.txt "usage: wfengine report RUN|last -o FILE.html"

# Many items: the table stops at 5,000 rows and counts the rest; the timeline stays bounded.
cat > big.yaml <<'Y'
version: 1
name: big
tasks:
  many:
    with-items: << range(6000) >>
    action: core.value
    input: {value: << item >>}
Y
run_wf run big.yaml --progress none
expect_rc "6000 items" 0
run_wf report last -o big.html
expect_rc "report of 6000 items" 0
expect_in "the page says the table is cut" big.html 'the table lists the first 5000'
expect_in "the rest is counted" big.html '1000 more items of many not listed (many[5000] to many[5999]): 1000 succeeded'
rows=$(grep -c '<tr class="unit">' big.html || true)
if [ "$rows" -eq 5000 ]; then pass "5000 item rows"; else fail "item rows: $rows, want 5000"; fi
size=$(wc -c < big.html)
if [ "$size" -lt 4000000 ]; then pass "the page stays small ($size bytes)"; else fail "big.html is $size bytes"; fi

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

# What the browser made of the page: the DOM after parsing must hold the table and the SVG.
chrome --dump-dom "file://$T/r.html" > dom.html || true
expect_in "the browser's DOM has the table" dom.html '<table id="units-table">'
expect_in "the browser's DOM has the svg" dom.html '<svg viewBox='
expect_in "the browser's DOM has the bars" dom.html '<rect class="bar"'
expect_in "the escaped file name is text in the DOM" dom.html 'we&lt;i&gt;rd&amp;"q'"'"'.yaml'

# Layout, checked by the browser itself: a copy of the page with a script appended that
# measures it and writes a verdict into the DOM (the report itself has no script).
{ sed 's#</body>##; s#</html>##' r.html; cat <<'JS'; } > check.html
<script>
(function () {
  var bad = [];
  var svg = document.querySelector('#timeline svg');
  var rects = svg ? svg.querySelectorAll('rect.bar') : [];
  var box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
  if (!svg || !(svg instanceof SVGSVGElement)) bad.push('no SVG element');
  if (box.width < 600 || box.height < 80) bad.push('svg is ' + box.width + 'x' + box.height);
  if (rects.length < 8) bad.push(rects.length + ' bars');
  Array.prototype.forEach.call(rects, function (r) {
    if (!(r instanceof SVGRectElement)) bad.push('a bar is not an SVG rect');
    var b = r.getBoundingClientRect();
    if (b.width <= 0 || b.height <= 0) bad.push('an empty bar');
    if (b.left < box.left - 1 || b.right > box.right + 1) bad.push('a bar outside the svg');
    if (!r.querySelector('title')) bad.push('a bar without a title');
  });
  var rows = document.querySelectorAll('#units-table tbody tr');
  if (rows.length !== 11) bad.push(rows.length + ' table rows, want 11');
  if (document.querySelectorAll('script').length !== 1) bad.push('markup from an error is live');
  var st = document.getElementById('run-status');
  if (!st || getComputedStyle(st).backgroundColor !== 'rgb(207, 34, 46)') bad.push('run status colour');
  if (document.querySelector('header i')) bad.push('markup from the file name is live');
  var out = document.createElement('pre');
  out.id = 'verdict';
  out.textContent = bad.length ? 'BROKEN: ' + bad.join('; ') : 'LAYOUT-OK ' + rects.length + ' bars';
  document.body.appendChild(out);
})();
</script>
</body></html>
JS
chrome --dump-dom "file://$T/check.html" > checked.html || true
# (The verdict is looked for in its element: the script's own text holds the words too.)
if grep -q '<pre id="verdict">LAYOUT-OK' checked.html; then
    pass "the page lays out in Chromium ($(grep -o '<pre id="verdict">LAYOUT-OK [0-9]* bars' checked.html | sed 's/.*>//'))"
else
    why=$(grep -o '<pre id="verdict">[^<]*' checked.html | sed 's/.*>//' || true)
    fail "the page lays out in Chromium" "${why:-no verdict: $(tail -n 20 chrome.err)}"
fi

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
