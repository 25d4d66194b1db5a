package ctct

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// Activity types (BULK.md). SV_ADD, ADD_CONTACTS and ADD_CONTACT_DETAIL
// are the same job; the server reports ADD_CONTACT_DETAIL when columns
// beyond the email are present.
const (
	ActivitySVAdd            = "SV_ADD"
	ActivityAddContacts      = "ADD_CONTACTS"
	ActivityAddContactDetail = "ADD_CONTACT_DETAIL"
	ActivityRemoveFromLists  = "REMOVE_CONTACTS_FROM_LISTS"
	ActivityClearLists       = "CLEAR_CONTACTS_FROM_LISTS"
	ActivityExportContacts   = "EXPORT_CONTACTS"
)

// activityFormContentType is how the client sends an activity's form
// (BULK.md: the server also takes multipart/form-data).
const activityFormContentType = "application/x-www-form-urlencoded"

// Activity statuses. COMPLETE and ERROR are final.
const (
	ActivityPending  = "PENDING"
	ActivityQueued   = "QUEUED"
	ActivityRunning  = "RUNNING"
	ActivityComplete = "COMPLETE"
	ActivityError    = "ERROR"
)

// Export options.
const (
	FileTypeCSV    = "CSV"
	FileTypeTXT    = "TXT"
	SortByEmail    = "EMAIL_ADDRESS"
	SortByDateDesc = "DATE_DESC"
)

// Via says which way of the API a job takes: the contacts collection
// (a request per contact or page, every field, exact) or bulk Activities
// (a few requests for any number of contacts, the bulk columns alone);
// auto lets the job choose by its own rule. The importer and the exporter
// each say what auto means for them.
type Via string

// The ways of the API.
const (
	ViaAuto       Via = "auto"
	ViaContacts   Via = "contacts"
	ViaActivities Via = "activities"
)

// IsAddActivity reports whether t is one of the three spellings of the add
// job.
func IsAddActivity(t string) bool {
	return t == ActivitySVAdd || t == ActivityAddContacts || t == ActivityAddContactDetail
}

// Activity is a bulk job as the server describes it.
type Activity struct {
	ID      string // absolute id URI
	Updated string
	Type    string
	Status  string
	// Errors are the rows that failed, in the order the server lists them.
	Errors []ActivityRowError
	// ErrorCount is the number of failed rows: len(Errors), or the count
	// a server gave instead of Error children (tolerated in feeds).
	ErrorCount       int
	FileName         string
	TransactionCount int
	RunStartTime     string // "" until the job started
	RunFinishTime    string // "" until the job finished
	InsertTime       string
}

// ActivityRowError is one failed row of a job. LineNumber counts the physical
// lines of the data parameter from 1, the header being line 1.
type ActivityRowError struct {
	LineNumber   int
	EmailAddress string
	Message      string
}

// Final reports whether the status will not change any more (COMPLETE or
// ERROR).
func (a *Activity) Final() bool { return a.Status == ActivityComplete || a.Status == ActivityError }

// Key returns the activity's own id, the last segment of its id URI (e.g.
// "a07e1ffaxjxffmvj6qd").
func (a *Activity) Key() string { return path.Base(idPath(a.ID)) }

// JobSpan is a bulk job's life as a run saw it: when the run posted it,
// when the server ran and ended it (by the server's clock; zero when it
// did not say), its rows and failed rows. A run report draws it.
type JobSpan struct {
	Key, Type, Status  string
	Submitted, Started time.Time
	Finished           time.Time
	Rows, Errors       int
}

// Span is the span of an ended job of rows rows that the run posted at
// submitted. A start or finish the server gave in no readable form is
// left zero.
func (a *Activity) Span(submitted time.Time, rows int) JobSpan {
	s := JobSpan{Key: a.Key(), Type: a.Type, Status: a.Status, Submitted: submitted, Rows: rows, Errors: a.ErrorCount}
	if t, err := time.Parse(time.RFC3339, a.RunStartTime); err == nil {
		s.Started = t
	}
	if t, err := time.Parse(time.RFC3339, a.RunFinishTime); err == nil {
		s.Finished = t
	}
	return s
}

// --- decoding ---------------------------------------------------------------

// xmlJob is an Activity element.
type xmlJob struct {
	ID     string `xml:"id,attr"`
	Type   string `xml:"Type"`
	Status string `xml:"Status"`
	Errors struct {
		Count string        `xml:",chardata"`
		Items []xmlJobError `xml:"Error"`
	} `xml:"Errors"`
	FileName         string `xml:"FileName"`
	TransactionCount string `xml:"TransactionCount"`
	RunStartTime     string `xml:"RunStartTime"`
	RunFinishTime    string `xml:"RunFinishTime"`
	InsertTime       string `xml:"InsertTime"`
}

type xmlJobError struct {
	LineNumber   string `xml:"LineNumber"`
	EmailAddress string `xml:"EmailAddress"`
	Message      string `xml:"Message"`
}

func entryActivity(e *xmlEntry) Activity {
	x := e.Content.Activity
	a := Activity{
		ID: strings.TrimSpace(x.ID), Updated: strings.TrimSpace(e.Updated),
		Type: strings.TrimSpace(x.Type), Status: strings.TrimSpace(x.Status),
		FileName:     strings.TrimSpace(x.FileName),
		RunStartTime: strings.TrimSpace(x.RunStartTime), RunFinishTime: strings.TrimSpace(x.RunFinishTime),
		InsertTime: strings.TrimSpace(x.InsertTime),
	}
	if a.ID == "" {
		a.ID = strings.TrimSpace(e.ID)
	}
	a.TransactionCount, _ = strconv.Atoi(strings.TrimSpace(x.TransactionCount))
	for _, xe := range x.Errors.Items {
		n, _ := strconv.Atoi(strings.TrimSpace(xe.LineNumber))
		a.Errors = append(a.Errors, ActivityRowError{LineNumber: n, EmailAddress: strings.TrimSpace(xe.EmailAddress), Message: strings.TrimSpace(xe.Message)})
	}
	a.ErrorCount = len(a.Errors)
	if a.ErrorCount == 0 {
		// Tolerated: some servers gave the number of failed rows as text.
		a.ErrorCount, _ = strconv.Atoi(strings.TrimSpace(x.Errors.Count))
	}
	return a
}

// DecodeActivityEntry decodes an Atom entry holding one Activity (the
// answer to a POST or a GET of /activities/{id}).
func DecodeActivityEntry(r io.Reader) (*Activity, error) {
	e, err := decodeEntry(r)
	if err != nil {
		return nil, err
	}
	if e.Content.Activity == nil {
		return nil, errors.New("decode entry: no Activity in content")
	}
	a := entryActivity(e)
	return &a, nil
}

// --- the request --------------------------------------------------------------

// ActivityRequest is a bulk job to create. Type is one of the Activity
// constants. Lists (list numbers, words or id URIs) are required by the
// add, remove and clear types; Rows by add and remove; Export by
// EXPORT_CONTACTS alone.
type ActivityRequest struct {
	Type  string
	Lists []string
	Rows  []BulkRow
	// Data is the data of an add or remove job already encoded (a
	// BulkEncoder's), instead of Rows.
	Data   *BulkData
	Export *ExportOptions
}

// ExportOptions are the parameters of an EXPORT_CONTACTS job.
type ExportOptions struct {
	// List is the one list to export: a number, a system list word
	// (active, removed, do-not-mail) or an id URI.
	List     string
	FileType string // CSV (the default when empty) or TXT
	// DateAdded, Source and ListNames ask for the Date Added, Added By and
	// "List: {name}" columns.
	DateAdded, Source, ListNames bool
	SortBy                       string // EMAIL_ADDRESS (server default when empty) or DATE_DESC
	// Columns are bulk column names (any case, aliases allowed) to
	// include besides Email Address; they are sent upper-case.
	Columns []string
}

// ActivityForm returns the form a POST of req sends, and for add and
// remove jobs the encoded data (whose Lines map an Error's LineNumber
// back to a row). List ids are resolved with ListURI. It checks the
// request as far as the client can, before anything is sent.
func (c *Client) ActivityForm(req *ActivityRequest) (url.Values, *BulkData, error) {
	v, data, err := c.activityForm(req)
	if err == nil && data != nil {
		v.Set("data", string(data.CSV))
	}
	return v, data, err
}

// activityForm is ActivityForm with the data parameter left out of the
// form (it is the returned data's text), so that an add job's body can be
// escaped straight from it.
func (c *Client) activityForm(req *ActivityRequest) (url.Values, *BulkData, error) {
	v := url.Values{}
	typ := req.Type
	v.Set("activityType", typ)
	needLists, needRows := false, false
	switch {
	case IsAddActivity(typ), typ == ActivityRemoveFromLists:
		needLists, needRows = true, true
	case typ == ActivityClearLists:
		needLists = true
	case typ == ActivityExportContacts:
	default:
		return nil, nil, fmt.Errorf("activity type %q is not one of %s, %s, %s, %s, %s, %s", typ,
			ActivitySVAdd, ActivityAddContacts, ActivityAddContactDetail, ActivityRemoveFromLists, ActivityClearLists, ActivityExportContacts)
	}
	if needLists {
		if len(req.Lists) == 0 {
			return nil, nil, fmt.Errorf("%s needs at least one list", typ)
		}
		for _, l := range req.Lists {
			if strings.TrimSpace(l) == "" {
				return nil, nil, fmt.Errorf("%s: empty list id", typ)
			}
			v.Add("lists", c.ListURI(l))
		}
	} else if len(req.Lists) > 0 {
		return nil, nil, fmt.Errorf("%s takes no lists", typ)
	}
	data := req.Data
	switch {
	case needRows && data != nil:
		switch {
		case len(req.Rows) > 0:
			return nil, nil, fmt.Errorf("%s: rows and encoded data both given", typ)
		case len(data.Lines) == 0:
			return nil, nil, fmt.Errorf("%s: no rows", typ)
		case len(data.Lines) > MaxActivityRows:
			return nil, nil, fmt.Errorf("%s: %d rows: %w", typ, len(data.Lines), ErrTooManyRows)
		case len(data.CSV) > MaxActivityData:
			return nil, nil, fmt.Errorf("%s: %d bytes: %w", typ, len(data.CSV), ErrDataTooLarge)
		}
	case needRows:
		var err error
		if data, err = EncodeBulkData(req.Rows); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", typ, err)
		}
	case data != nil:
		return nil, nil, fmt.Errorf("%s takes no rows", typ)
	case len(req.Rows) > 0:
		return nil, nil, fmt.Errorf("%s takes no rows", typ)
	}
	if typ != ActivityExportContacts {
		if req.Export != nil {
			return nil, nil, fmt.Errorf("%s takes no export options", typ)
		}
		return v, data, nil
	}
	x := req.Export
	if x == nil || strings.TrimSpace(x.List) == "" {
		return nil, nil, errors.New("EXPORT_CONTACTS needs a list")
	}
	v.Set("listId", c.ListURI(x.List))
	ft := strings.ToUpper(x.FileType)
	if ft == "" {
		ft = FileTypeCSV
	}
	if ft != FileTypeCSV && ft != FileTypeTXT {
		return nil, nil, fmt.Errorf("export file type %q is not %s or %s", x.FileType, FileTypeCSV, FileTypeTXT)
	}
	v.Set("fileType", ft)
	v.Set("exportOptDate", strconv.FormatBool(x.DateAdded))
	v.Set("exportOptSource", strconv.FormatBool(x.Source))
	v.Set("exportListName", strconv.FormatBool(x.ListNames))
	switch x.SortBy {
	case "":
	case SortByEmail, SortByDateDesc:
		v.Set("sortBy", x.SortBy)
	default:
		return nil, nil, fmt.Errorf("export sort %q is not %s or %s", x.SortBy, SortByEmail, SortByDateDesc)
	}
	for _, col := range x.Columns {
		f, ok := LookupBulkColumn(col)
		if !ok {
			return nil, nil, fmt.Errorf("export column %q is not a bulk column", col)
		}
		v.Add("columns", strings.ToUpper(f.Bulk))
	}
	return v, data, nil
}
