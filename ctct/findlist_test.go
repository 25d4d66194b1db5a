package ctct

import (
	"strings"
	"testing"
)

func TestFindList(t *testing.T) {
	uri := func(n string) string { return "http://api.constantcontact.com/ws/customers/joe/lists/" + n }
	lists := []List{
		{ID: uri("active"), Name: "Active"},
		{ID: uri("do-not-mail"), Name: "Do Not Mail"},
		{ID: uri("1"), Name: "General Interest"},
		{ID: uri("11"), Name: "Customers"},
		{ID: uri("12"), Name: "Newsletter 2024/11"},
		{ID: uri("13"), Name: "2024"},
		{ID: uri("14"), Name: "VIP"},
		{ID: uri("15"), Name: "vip"},
		{ID: uri("16"), Name: "Partners"},
	}
	tests := []struct {
		in, want, err string
	}{
		{"11", "11", ""},
		{" 11 ", "11", ""},
		{"011", "11", ""},
		{"Newsletter 2024/11", "12", ""}, // a name with digits is not list 11
		{"2024", "13", ""},               // no list 2024: the name
		{"general interest", "1", ""},    // case differs, one list matches
		{"VIP", "14", ""},                // the exact name wins
		{"Vip", "", "names several lists when case is ignored"},
		{"99", "", `no list has the number or name "99"`},
		{"Nope", "", `no list has the number or name "Nope"`},
		{"Active", "", "no list"}, // system lists cannot be joined
		{"", "", "no list"},
	}
	for _, tt := range tests {
		got, err := FindList(lists, tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("FindList(%q) error %v, want %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || Number(got.ID) != tt.want):
			t.Errorf("FindList(%q) = %q, %v; want list %s", tt.in, got.ID, err, tt.want)
		}
	}
}
