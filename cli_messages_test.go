package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"ctctbulk/sandbox"
)

// TestMessagesInWords checks, word for word, what a user reads when
// something goes wrong: what is wrong and what to do, never Go's text.
// serveMemorySandbox serves an empty in-memory sandbox with the default account over
// HTTP on loopback until the test ends.
func serveMemorySandbox(t *testing.T) (*sandbox.Sandbox, *httptest.Server) {
	t.Helper()
	cfg := sandbox.Options{DB: ":memory:", User: sandbox.DefaultUser, APIKey: sandbox.DefaultAPIKey, Password: sandbox.DefaultPassword}
	sb, err := sandbox.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() {
		srv.Close()
		sb.Close()
	})
	return sb, srv
}

func TestMessagesInWords(t *testing.T) {
	_, srv := serveMemorySandbox(t)
	closed := httptest.NewServer(nil)
	closedURL := closed.URL
	closed.Close()

	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	binary := write("sheet.xlsx", "PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00")
	after := write("after.csv", "Email,Name\na@b.co,\"Ann\"x\n")
	open := write("open.csv", "Email,Name\na@b.co,\"open\nc@d.co,x\n")
	oneBad := write("onebad.csv", "Email\nnot-an-email\n")

	account := map[string]string{"CTCT_USERNAME": sandbox.DefaultUser, "CTCT_API_KEY": sandbox.DefaultAPIKey, "CTCT_PASSWORD": sandbox.DefaultPassword}
	with := func(kv ...string) map[string]string {
		env := map[string]string{}
		for k, v := range account {
			env[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name string
		ctx  context.Context
		env  map[string]string
		args []string
		code int
		// stderr is the last line of stderr, exactly.
		stderr string
		// report is the _error of the error report's first row, exactly.
		report string
	}{
		{"wrong credentials", nil, with("CTCT_BASE_URL", srv.URL, "CTCT_PASSWORD", "wrong"), []string{"lists"}, exitFatal,
			"ctctbulk lists: the account rejected the credentials: check CTCT_USERNAME, CTCT_API_KEY and CTCT_PASSWORD", ""},
		{"base URL without a scheme", nil, account, []string{"lists", "--base-url", "api.example.com"}, exitUsage,
			"ctctbulk lists: --base-url needs a scheme: https://api.example.com", ""},
		{"interrupted", cancelled, with("CTCT_BASE_URL", srv.URL), []string{"lists"}, exitInterrupted,
			"ctctbulk lists: interrupted", ""},
		{"connection refused", nil, with("CTCT_BASE_URL", closedURL), []string{"lists", "--retries", "1"}, exitFatal,
			"ctctbulk lists: the server refused the connection: check --base-url (or CTCT_BASE_URL) and that the server is running", ""},
		{"https to a plain http server", nil, with("CTCT_BASE_URL", strings.Replace(srv.URL, "http:", "https:", 1)), []string{"lists", "--retries", "0"}, exitFatal,
			"ctctbulk lists: the server does not speak https at that address: check the scheme of --base-url (http:// only for a local sandbox)", ""},
		{"binary file", nil, nil, []string{"import", "--dry-run", binary}, exitFatal,
			`ctctbulk import: this is not a text file: import reads CSV (in a spreadsheet, save the sheet as "CSV UTF-8")`, ""},
		{"text after a closing quote", nil, nil, []string{"import", "--dry-run", after}, exitRowsFailed,
			"ctctbulk import: 1 row failed: see " + after + ".dry-run.errors.csv",
			"line 2: text after the closing quote of a cell"},
		{"quote never closed", nil, nil, []string{"import", "--dry-run", "--list", "1", open}, exitRowsFailed,
			"ctctbulk import: 1 row failed: see " + open + ".dry-run.errors.csv",
			"line 2: a quote opens a cell that never closes"},
		{"one row failed", nil, nil, []string{"import", "--dry-run", oneBad}, exitRowsFailed,
			"ctctbulk import: 1 row failed: see " + oneBad + ".dry-run.errors.csv",
			`line 2, column "Email" (EmailAddress): "not-an-email" is not a valid email address: it needs exactly one @`},
		{"missing output directory", nil, nil, []string{"export", "--sandbox", filepath.Join(dir, "s.db"), "-o", filepath.Join(dir, "nowhere", "out.csv")}, exitUsage,
			"ctctbulk export: -o " + filepath.Join(dir, "nowhere", "out.csv") + ": the directory " + filepath.Join(dir, "nowhere") + " does not exist", ""},
		{"mistyped command", nil, nil, []string{"improt", "x.csv"}, exitUsage,
			`ctctbulk: unknown command "improt": did you mean "import"? (see 'ctctbulk --help')`, ""},
		{"mistyped flag", nil, nil, []string{"import", "--lsit", "1", "x.csv"}, exitUsage,
			"ctctbulk import: unknown flag: --lsit: did you mean --list? (see 'ctctbulk import --help')", ""},
		{"no file", nil, nil, []string{"import"}, exitUsage,
			"ctctbulk import: import needs exactly one FILE (or - for stdin)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			var out, errb strings.Builder
			code := run(ctx, tt.args, strings.NewReader(""), &out, &errb, func(k string) string { return tt.env[k] })
			lines := strings.Split(strings.TrimRight(errb.String(), "\n"), "\n")
			if last := lines[len(lines)-1]; code != tt.code || last != tt.stderr {
				t.Errorf("exit %d, last line of stderr:\n%s\nwant exit %d and\n%s\n(stderr %q)", code, last, tt.code, tt.stderr, errb.String())
			}
			if tt.report != "" {
				recs := readCSV(t, tt.args[len(tt.args)-1]+".dry-run.errors.csv")
				col := slices.Index(recs[0], "_error")
				if col < 0 {
					t.Fatalf("no _error column in the report: %q", recs[0])
				}
				if got := recs[1][col]; got != tt.report {
					t.Errorf("report reason:\n%s\nwant\n%s", got, tt.report)
				}
			}
		})
	}
}

// TestRetryLines: a connection that cannot be made is retried with a line
// that says so, never silently.
func TestRetryLines(t *testing.T) {
	closed := httptest.NewServer(nil)
	closed.Close()
	env := map[string]string{"CTCT_USERNAME": "joe", "CTCT_API_KEY": "k", "CTCT_PASSWORD": "p", "CTCT_BASE_URL": closed.URL}
	var out, errb strings.Builder
	run(t.Context(), []string{"lists", "--retries", "2"}, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	re := regexp.MustCompile(`(?m)^retrying in [0-9.]+m?s: connection refused$`)
	if n := len(re.FindAllString(errb.String(), -1)); n != 2 {
		t.Errorf("%d retry lines, want 2:\n%s", n, errb.String())
	}
}
