package exporter

import "testing"

func TestIsTempOf(t *testing.T) {
	tests := []struct {
		name, base string
		want       bool
	}{
		{".out.csv.123.tmp", "out.csv", true},
		{".out.csv.manifest.json.42.tmp", "out.csv.manifest.json", true},
		{".out.csv.manifest.json.42.tmp", "out.csv", false}, // the manifest's, not the file's
		{".out.csv..tmp", "out.csv", false},
		{".out.csv.12a.tmp", "out.csv", false},
		{".out.csv.123.tmp.bak", "out.csv", false},
		{"out.csv.123.tmp", "out.csv", false},
		{".out.csv.123.tmp", "out", false},
		{".a[b].csv.9.tmp", "a[b].csv", true}, // no pattern syntax
	}
	for _, tt := range tests {
		if got := isTempOf(tt.name, tt.base); got != tt.want {
			t.Errorf("isTempOf(%q, %q) = %v, want %v", tt.name, tt.base, got, tt.want)
		}
	}
}
