package ctct

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// MarshalList returns the Atom entry that creates (POST, no ID) or
// updates (PUT, with ID) a contact list: its OptInDefault, Name and
// SortOrder. Characters that XML 1.0 forbids are refused.
func MarshalList(l *List) ([]byte, error) {
	if strings.TrimSpace(l.Name) == "" {
		return nil, errors.New("marshal list: empty name")
	}
	for _, v := range []string{l.ID, l.Name, l.OptInDefault, l.SortOrder} {
		if err := CheckXMLText(v); err != nil {
			return nil, &FieldError{Field: "ContactList", Err: err}
		}
	}
	optIn := l.OptInDefault
	if optIn == "" {
		optIn = "false"
	}
	id := l.ID
	if id == "" {
		id = "data:,none"
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<entry xmlns="` + AtomNS + `">` + "\n  <id>")
	escape(&b, id)
	b.WriteString("</id>\n  <title type=\"text\">")
	escape(&b, l.Name)
	b.WriteString("</title>\n  <author></author>\n  <updated>" + requestUpdated + "</updated>\n")
	b.WriteString(`  <content type="` + ContentType + `">` + "\n")
	b.WriteString(`    <ContactList xmlns="` + CTCTNS + `"`)
	if l.ID != "" {
		b.WriteString(` id="`)
		escape(&b, l.ID)
		b.WriteString(`"`)
	}
	b.WriteString(">\n      <OptInDefault>")
	escape(&b, optIn)
	b.WriteString("</OptInDefault>\n      <Name>")
	escape(&b, l.Name)
	b.WriteString("</Name>\n")
	if l.SortOrder != "" {
		b.WriteString("      <SortOrder>")
		escape(&b, l.SortOrder)
		b.WriteString("</SortOrder>\n")
	}
	b.WriteString("    </ContactList>\n  </content>\n</entry>\n")
	return b.Bytes(), nil
}

// listRef turns a list id (URI, path or number) into a reference.
func (c *Client) listRef(id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", errors.New("empty list id")
	}
	if strings.Contains(id, "/") {
		return id, nil
	}
	return c.accountPath() + "lists/" + id, nil
}

// CreateList POSTs a new list (Name, OptInDefault, SortOrder of l) and
// returns it as the server describes it. An existing name matches
// ErrConflict. Like CreateContact, the POST is not repeated when its
// outcome is uncertain (ErrUncertain): list the lists to find out. Safe
// for concurrent use.
func (c *Client) CreateList(ctx context.Context, l *List) (*List, error) {
	in := *l
	in.ID = ""
	body, err := MarshalList(&in)
	if err != nil {
		return nil, fmt.Errorf("create list: %w", err)
	}
	res, err := c.do(ctx, http.MethodPost, c.accountPath()+"lists", body)
	if err != nil {
		return nil, fmt.Errorf("create list: %w", err)
	}
	if len(bytes.TrimSpace(res.body)) > 0 {
		if out, derr := DecodeListEntry(bytes.NewReader(res.body)); derr == nil {
			return out, nil
		}
	}
	loc := res.header.Get("Location")
	if loc == "" {
		return nil, fmt.Errorf("create list: %w: created, but the answer does not say which list", ErrUncertain)
	}
	out := in
	out.ID = c.ListURI(loc)
	return &out, nil
}

// UpdateList PUTs l (its ID, Name, OptInDefault and SortOrder) over the
// list. The system lists cannot be written (ErrBadRequest). Safe for
// concurrent use.
func (c *Client) UpdateList(ctx context.Context, l *List) error {
	if l.ID == "" {
		return errors.New("update list: no id")
	}
	in := *l
	in.ID = c.ListURI(l.ID)
	body, err := MarshalList(&in)
	if err != nil {
		return fmt.Errorf("update list: %w", err)
	}
	ref, err := c.listRef(l.ID)
	if err != nil {
		return fmt.Errorf("update list: %w", err)
	}
	if _, err := c.do(ctx, http.MethodPut, ref, body); err != nil {
		return fmt.Errorf("update list: %w", err)
	}
	return nil
}

// DeleteList DELETEs a list (number or id URI); its members stay in the
// account. Safe for concurrent use.
func (c *Client) DeleteList(ctx context.Context, id string) error {
	ref, err := c.listRef(id)
	if err != nil {
		return fmt.Errorf("delete list: %w", err)
	}
	if _, err := c.do(ctx, http.MethodDelete, ref, nil); err != nil {
		return fmt.Errorf("delete list: %w", err)
	}
	return nil
}
