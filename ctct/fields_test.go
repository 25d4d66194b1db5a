package ctct

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestFieldAccessors checks every accessor of the field table against the
// Contact struct itself: a text field reads and writes the struct field of
// its name (CustomFieldN: CustomFields[N-1]) and nothing else; a Derived
// field refuses Set; unknown names have no field.
func TestFieldAccessors(t *testing.T) {
	for i, f := range Fields() {
		var c Contact
		v := fmt.Sprintf("value %d", i)
		if f.Kind == Derived {
			if err := f.Set(&c, v); err == nil {
				t.Errorf("%s: Set works on a derived field", f.Name)
			}
			continue
		}
		if err := f.Set(&c, v); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		var want reflect.Value
		if rest, ok := strings.CutPrefix(f.Name, "CustomField"); ok {
			var n int
			fmt.Sscan(rest, &n)
			want = reflect.ValueOf(&c).Elem().FieldByName("CustomFields").Index(n - 1)
		} else {
			want = reflect.ValueOf(&c).Elem().FieldByName(f.Name)
		}
		if !want.IsValid() || want.String() != v {
			t.Errorf("%s: Set did not write the struct field of that name", f.Name)
		}
		if got := f.Get(&c); got != v {
			t.Errorf("%s: Get = %q, want %q", f.Name, got, v)
		}
		if got := c.Get(f.Name); got != v {
			t.Errorf("Contact.Get(%s) = %q, want %q", f.Name, got, v)
		}
		c2 := c
		_ = f.Set(&c2, "")
		if !reflect.DeepEqual(c2, Contact{}) {
			t.Errorf("%s: the value was written elsewhere too: %+v", f.Name, c2)
		}
	}
	c := Contact{ID: "http://api.constantcontact.com/ws/customers/joe/contacts/42",
		Lists: []ListMembership{{ID: "http://api.constantcontact.com/ws/customers/joe/lists/3"}, {ID: "http://api.constantcontact.com/ws/customers/joe/lists/17"}}}
	if got := c.Get(FieldID); got != "42" {
		t.Errorf("Id = %q", got)
	}
	if got := c.Get(FieldContactLists); got != "3;17" {
		t.Errorf("ContactLists = %q", got)
	}
	if got := (&Contact{}).Get(FieldID); got != "" {
		t.Errorf("Id of a new contact = %q", got)
	}
	for _, name := range []string{"Bogus", "CustomField16", "CustomField0", "customfield1"} {
		if _, ok := LookupField(name); ok {
			t.Errorf("LookupField(%q) found a field", name)
		}
		if err := c.Set(name, "x"); err == nil {
			t.Errorf("Set(%q) works", name)
		}
	}
}
