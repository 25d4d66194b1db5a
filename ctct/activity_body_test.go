package ctct

import (
	"net/url"
	"reflect"
	"testing"
)

// TestEncodeFormMatchesURLValues: the add job's body, escaped straight from
// its data, decodes to the very form url.Values.Encode would have sent.
func TestEncodeFormMatchesURLValues(t *testing.T) {
	c, err := NewClient("https://api.example.com", "joe", Options{APIKey: "k", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	rows := []BulkRow{{EmailAddress: "a@b.co", FirstName: "Zoë & \"Ann\"", Note: "line 1\nline 2; 100% ~sure+"}, {EmailAddress: "c@d.co", City: "São Paulo"}}
	for _, req := range []*ActivityRequest{
		{Type: ActivityAddContacts, Lists: []string{"1", "2"}, Rows: rows},
		{Type: ActivityExportContacts, Export: &ExportOptions{List: "active", Columns: []string{"First Name"}}},
	} {
		form, _, err := c.ActivityForm(req)
		if err != nil {
			t.Fatal(err)
		}
		fields, data2, err := c.activityForm(req)
		if err != nil {
			t.Fatal(err)
		}
		body := string(encodeForm(fields, data2))
		if body != form.Encode() {
			t.Errorf("encodeForm:\n%s\nwant url.Values.Encode's\n%s", body, form.Encode())
		}
		got, err := url.ParseQuery(body)
		if err != nil || !reflect.DeepEqual(got, form) {
			t.Errorf("encodeForm decodes to %v (%v), want %v", got, err, form)
		}
	}
}
