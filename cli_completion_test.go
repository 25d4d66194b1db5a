package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBashCompletion sources the output of 'ctctbulk completion bash' in a
// real bash and asks it to complete a subcommand and a flag, the way the
// shell does when Tab is pressed.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed: the completion script cannot be sourced")
	}
	// cobra's script builds on the bash-completion package, as every
	// distribution's bash does once it is installed (.ci/run installs it).
	const bashCompletion = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(bashCompletion); err != nil {
		t.Skipf("the bash-completion package is not installed (%s): the script needs it", bashCompletion)
	}
	// The script calls the program by its name: put a ctctbulk that runs
	// this test binary as the command on PATH.
	dir := t.TempDir()
	wrapper := "#!/bin/sh\nCTCTBULK_RUN_MAIN=1 exec '" + os.Args[0] + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "ctctbulk"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "completion.bash")
	out, err := exec.Command(filepath.Join(dir, "ctctbulk"), "completion", "bash").Output()
	if err != nil {
		t.Fatalf("completion bash: %v", err)
	}
	if err := os.WriteFile(script, out, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		line string
		want []string
	}{
		{"ctctbulk im", []string{"import"}},
		{"ctctbulk ex", []string{"export"}},
		{"ctctbulk import --li", []string{"--list"}},
		{"ctctbulk export --sta", []string{"--state", "--status"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			words := strings.Fields(tt.line)
			prog := `source ` + bashCompletion + `
source "$1" || exit 1
COMP_LINE="$2"
COMP_POINT=${#COMP_LINE}
read -r -a COMP_WORDS <<< "$COMP_LINE"
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
__start_ctctbulk 2>/dev/null # compopt complains outside a real Tab press
printf '%s\n' "${COMPREPLY[@]}"
`
			cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog, "bash", script, tt.line)
			cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
			got, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, got)
			}
			var completions []string
			for _, c := range strings.Fields(string(got)) {
				completions = append(completions, c)
			}
			if strings.Join(completions, " ") != strings.Join(tt.want, " ") {
				t.Errorf("%q (last word %q) completes to %q, want %q", tt.line, words[len(words)-1], completions, tt.want)
			}
		})
	}
}
