package sandbox

import (
	"errors"
	"testing"
)

// FuzzParseActivityForm checks that no body or content type makes the form
// parser panic, and that what it accepts holds only known parameters,
// the single-valued ones once.
func FuzzParseActivityForm(f *testing.F) {
	f.Add(formURLEncoded, []byte("activityType=ADD_CONTACTS&lists=http%3A%2F%2Fapi.constantcontact.com%2Fws%2Fcustomers%2Fsandbox%2Flists%2F1&data=Email+Address%0Aa%40b.com"))
	f.Add(formURLEncoded+"; charset=utf-8", []byte("activityType=EXPORT_CONTACTS&listId=x&fileType=CSV&columns=A&columns=B"))
	f.Add(formURLEncoded, []byte("lists[]=1&a=%zz;b"))
	f.Add("multipart/form-data; boundary=XyZ", []byte("--XyZ\r\nContent-Disposition: form-data; name=\"activityType\"\r\n\r\nSV_ADD\r\n--XyZ\r\nContent-Disposition: form-data; name=\"data\"; filename=\"c.csv\"\r\n\r\nEmail Address\na@b.com\r\n--XyZ--\r\n"))
	f.Add("multipart/form-data", []byte("--"))
	f.Add("text/csv", []byte("x"))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		v, err := parseActivityForm(ctype, body)
		if err != nil {
			if v != nil {
				t.Fatal("values with an error")
			}
			if errors.Is(err, errUnsupportedForm) != (formStatus(err) == 415) {
				t.Fatalf("status %d for %v", formStatus(err), err)
			}
			return
		}
		for k, vals := range v {
			known, repeat := activityParam(k)
			if !known || (!repeat && len(vals) > 1) {
				t.Fatalf("accepted %s=%q", k, vals)
			}
		}
	})
}
