package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"ctctbulk/report"
)

var reportSample = flag.String("report-sample", "", "write a screenshot (PNG) of the sample run report to this `FILE` (go test -run TestReportInBrowser -report-sample docs/report-sample.png)")

// TestReportPath: where the run report goes by default, with --report
// FILE, and never with --report=false.
func TestReportPath(t *testing.T) {
	tests := []struct {
		flag, beside, want string
	}{
		{"", "contacts.csv.errors.csv", "contacts.csv.report.html"},
		{"", "out/x.csv", "out/x.csv.report.html"},
		{"", "", ""}, // an export to stdout
		{"my.html", "contacts.csv.errors.csv", "my.html"},
		{"my.html", "", "my.html"},
		{reportOff, "contacts.csv.errors.csv", ""},
	}
	for _, tt := range tests {
		rr := runReport{flag: tt.flag}
		if got := rr.path(tt.beside); got != tt.want {
			t.Errorf("--report %q beside %q: %q, want %q", tt.flag, tt.beside, got, tt.want)
		}
	}
}

// reportInput is an import with rows that fail, one of them an email
// cell holding a script.
const reportInput = `Email,First Name,Last Name,State
ann@example.com,Ann,Lee,CA
bob@example.com,Bob,Ray,NY
<script>alert(1)</script>,Eve,Evil,CA
carl.example.com,Carl,Jones,CA
dora@example.com,Dora,Ng,ZZ
`

// TestReportFiles: an import and an export write their run reports where
// they should, say so in --summary-json, and --report=false writes none.
func TestReportFiles(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte(reportInput), 0o600); err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(dir, "sum.json")
	code, stdout, stderr := runCLI(t, nil, "import", "--sandbox", db, "--via", "contacts", "--list", "1", "--rate", "1000", "--summary-json", js, in)
	page := in + ".report.html"
	if code != exitRowsFailed || !strings.Contains(stdout, "run report: "+page) {
		t.Fatalf("code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if got := summaryReport(t, js); got != page {
		t.Errorf("summary names the report %q, want %q", got, page)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`href="in.csv.errors.csv"`, "&lt;script&gt;alert(1)&lt;/script&gt;", "ctctbulk import --list 1"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the report lacks %s", want)
		}
	}

	out := filepath.Join(dir, "out.csv")
	code, stdout, stderr = runCLI(t, nil, "export", "--sandbox", db, "--via", "activities", "--rate", "1000", "-o", out, "--summary-json", js)
	if code != exitOK || summaryReport(t, js) != out+".report.html" {
		t.Fatalf("export: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	b, err = os.ReadFile(out + ".report.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`href="out.csv.manifest.json"`, `id="jobs"`, "columns left empty"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the export's report lacks %s", want)
		}
	}

	os.Remove(page)
	code, _, stderr = runCLI(t, nil, "import", "--sandbox", db, "--via", "contacts", "--list", "1", "--rate", "1000", "--summary-json", js, "--report=false", in)
	if _, err := os.Stat(page); code != exitRowsFailed || err == nil || summaryReport(t, js) != "" {
		t.Errorf("--report=false: code %d, report there: %v, stderr %q", code, err == nil, stderr)
	}
}

func summaryReport(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		RunReport string `json:"run_report"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s.RunReport
}

// browser starts a headless Chromium for the test, or skips the test
// saying why when none is installed.
func browser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no browser in PATH (chromium, chromium-browser or google-chrome): the run report is not checked in a browser; .ci/run installs chromium")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1100, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// TestReportInBrowser opens the run report of a real import (against the
// sandbox, with failing rows, one a cell holding a script) in headless
// Chromium and checks what a person sees: the outcome bar's counts, a
// failure group, the request chart drawn against the rate line, the
// script cell shown as text, and no script error or dialog at all.
func TestReportInBrowser(t *testing.T) {
	ctx := browser(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "people.csv")
	if err := os.WriteFile(in, []byte(reportInput), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, nil, "import", "--sandbox", filepath.Join(dir, "s.db"), "--via", "contacts", "--list", "1", "--rate", "1000", in)
	if code != exitRowsFailed {
		t.Fatalf("import: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// Everything the page writes to the console (an exception, an error,
	// a warning, a resource it could not load) and any dialog is a fault.
	console := chromedp.Console(ctx)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	var mu sync.Mutex
	var problems []string
	note := func(s string) { mu.Lock(); problems = append(problems, s); mu.Unlock() }
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning {
				note(m.String())
			}
		}
	}()
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			note("dialog: " + ev.Message)
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	url := "file://" + in + ".report.html"
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible("#outcome-bar")); err != nil {
		t.Fatal(err)
	}
	created := do(t, ctx, chromedp.TextContent(`#outcomes li[data-kind="created"] .n`))
	failed := do(t, ctx, chromedp.TextContent(`#outcomes li[data-kind="failed"] .n`))
	failure := do(t, ctx, chromedp.TextContent(`#failures .failure h3`))
	scriptCell := do(t, ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#failures td.cell")].map(td => td.textContent).find(s => s.includes("script")) || ""`))
	okRects := do(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg#requests rect.ok").length`))
	drawn := do(t, ctx, chromedp.Evaluate[float64](`[...document.querySelectorAll("svg#requests rect")].reduce((s, r) => s + r.getBBox().height, 0)`))
	rateLine := do(t, ctx, chromedp.AttributeValue(`#rate-line`, "d")).Value
	scripts := do(t, ctx, chromedp.Evaluate[int](`document.scripts.length`))
	// Let the console and the dialogs say anything the page did late.
	if err := chromedp.Do(ctx, chromedp.Sleep(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if created != "2" || failed != "3" {
		t.Errorf("the outcome bar shows created %q and failed %q, want 2 and 3", created, failed)
	}
	if !strings.Contains(failure, "EmailAddress: not a valid email address") || !strings.HasPrefix(strings.TrimSpace(failure), "2") {
		t.Errorf("first failure group %q, want the 2 rows with a bad email", failure)
	}
	if scriptCell != "<script>alert(1)</script>" || scripts != 0 {
		t.Errorf("script cell shown as %q, %d scripts in the page: want the text and none", scriptCell, scripts)
	}
	if okRects == 0 || drawn <= 0 || rateLine == "" {
		t.Errorf("request chart: %d bars, %.1f drawn, rate line %q", okRects, drawn, rateLine)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the browser reported: %s", strings.Join(problems, "; "))
	}

	if *reportSample != "" {
		screenshot(t, ctx, *reportSample)
	}
}

// do runs one action of the browser and returns its value.
func do[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// screenshot writes a PNG of the whole sample report to path (for the
// README; the tests never write it unless asked).
func screenshot(t *testing.T, ctx context.Context, path string) {
	html := filepath.Join(t.TempDir(), "sample.report.html")
	var b bytes.Buffer
	if err := report.Render(&b, report.Sample()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(html, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1100, 900), chromedp.Navigate("file://"+html), chromedp.WaitVisible("#jobs")); err != nil {
		t.Fatal(err)
	}
	png := do(t, ctx, chromedp.FullScreenshot(100))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}
