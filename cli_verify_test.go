package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerify(t *testing.T) {
	db := seededDB(t, 30)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.csv")
	if code, _, stderr := exportCLI(t.Context(), nil, io.Discard, append([]string{"--sandbox", db, "-o", good}, fast...)...); code != exitOK {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	content, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(good + ".manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	// variant writes a copy of the export, changed, with the manifest.
	variant := func(name string, change func(string) string, withManifest bool) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(change(string(content))), 0o600); err != nil {
			t.Fatal(err)
		}
		if withManifest {
			if err := os.WriteFile(p+".manifest.json", manifest, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	same := func(s string) string { return s }
	lines := strings.SplitAfter(string(content), "\n")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"whole", []string{good}, exitOK, "ok, 30 rows", ""},
		{"a row less", []string{variant("short.csv", func(string) string { return strings.Join(lines[:len(lines)-2], "") }, true)},
			exitFatal, "", "does not match its manifest: " + filepath.Join(dir, "short.csv") + " has 29 rows"},
		{"a changed cell", []string{variant("changed.csv", func(s string) string { return strings.Replace(s, "@", "#", 1) }, true)},
			exitFatal, "", "does not match its manifest"},
		{"cut inside a quoted cell", []string{variant("cut.csv", func(s string) string { return s + "\"unterminated" }, true)},
			exitFatal, "", "not a whole CSV file"},
		{"no manifest", []string{variant("alone.csv", same, false)}, exitFatal, "", "read manifest"},
		{"no file", nil, exitUsage, "", "exactly one FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, append([]string{"verify"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, want %d\nstdout %q (want %q)\nstderr %q (want %q)", code, tt.code, stdout, tt.stdout, stderr, tt.stderr)
			}
		})
	}
}
