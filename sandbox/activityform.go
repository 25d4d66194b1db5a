package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
)

// maxActivityBody bounds the body of an activity POST: 4 MiB of data
// url-encoded can take three times as many bytes, plus the other
// parameters.
const maxActivityBody = 3*4<<20 + 1<<20

// Content types of an activity POST.
const (
	formURLEncoded = "application/x-www-form-urlencoded"
	formMultipart  = "multipart/form-data"
)

// activityParam reports whether k is a parameter of an activity POST,
// and whether it may be repeated.
func activityParam(k string) (known, repeat bool) {
	switch k {
	case "lists", "columns":
		return true, true
	case "activityType", "data", "listId", "fileType", "exportOptDate", "exportOptSource", "exportListName", "sortBy":
		return true, false
	}
	return false, false
}

// errUnsupportedForm is a body that is neither url-encoded nor multipart
// (415).
var errUnsupportedForm = errors.New("Content-Type must be " + formURLEncoded + " or " + formMultipart)

// parseActivityForm reads the parameters of an activity POST from a
// url-encoded or multipart/form-data body. Unknown parameters, and a
// single-valued one given twice, are errors (a client sending lists[]=
// learns it at once). An unsupported content type is errUnsupportedForm.
// Pure: no I/O beyond the bytes given.
func parseActivityForm(contentType string, body []byte) (url.Values, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, errUnsupportedForm
	}
	var v url.Values
	switch mt {
	case formURLEncoded:
		v, err = url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("invalid form: %w", err)
		}
	case formMultipart:
		if v, err = parseMultipart(params["boundary"], body); err != nil {
			return nil, err
		}
	default:
		return nil, errUnsupportedForm
	}
	for k, vals := range v {
		known, repeat := activityParam(k)
		if !known {
			return nil, fmt.Errorf("unknown parameter %q", k)
		}
		if !repeat && len(vals) > 1 {
			return nil, fmt.Errorf("parameter %s may be given only once", k)
		}
	}
	return v, nil
}

// parseMultipart reads the parts of a multipart/form-data body as form
// values (a file part counts as its field's value).
func parseMultipart(boundary string, body []byte) (url.Values, error) {
	if boundary == "" {
		return nil, errors.New("invalid form: multipart without a boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	v := url.Values{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return v, nil
		}
		if err != nil {
			return nil, fmt.Errorf("invalid form: %w", err)
		}
		name := p.FormName()
		if name == "" {
			p.Close()
			return nil, errors.New("invalid form: a part without a name")
		}
		b, err := io.ReadAll(io.LimitReader(p, maxActivityBody+1))
		p.Close()
		if err != nil {
			return nil, fmt.Errorf("invalid form: part %s: %w", name, err)
		}
		v.Add(name, string(b))
	}
}

// formStatus is the answer status of a form error: 415 for a wrong
// content type, otherwise 400.
func formStatus(err error) int {
	if errors.Is(err, errUnsupportedForm) {
		return http.StatusUnsupportedMediaType
	}
	return http.StatusBadRequest
}

// single returns a parameter's value and whether it was given.
func single(v url.Values, k string) (string, bool) {
	vals, ok := v[k]
	if !ok || len(vals) == 0 {
		return "", false
	}
	return strings.TrimSpace(vals[0]), true
}
