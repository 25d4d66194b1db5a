package ctct

import (
	"fmt"
	"strings"
)

// FindList returns the user list that v names among lists: a list number
// when v is all digits and a list has that number, otherwise a name, the
// exact name first, then one that differs only in case when exactly one
// list does. System lists (active, removed, do-not-mail) are never
// returned: no contact can be put on them. It is the one rule by which
// every command turns a --list value or a ContactLists cell into a list.
func FindList(lists []List, v string) (List, error) {
	v = strings.TrimSpace(v)
	var user []List
	for _, l := range lists {
		if IsNumber(Number(l.ID)) {
			user = append(user, l)
		}
	}
	if IsNumber(v) {
		for _, l := range user {
			if Number(l.ID) == strings.TrimLeft(v, "0") || Number(l.ID) == v {
				return l, nil
			}
		}
	}
	for _, l := range user {
		if l.Name == v {
			return l, nil
		}
	}
	var folded []List
	for _, l := range user {
		if strings.EqualFold(l.Name, v) {
			folded = append(folded, l)
		}
	}
	switch len(folded) {
	case 1:
		return folded[0], nil
	case 0:
		return List{}, fmt.Errorf("no list has the number or name %q (see ctctbulk lists)", v)
	}
	names := make([]string, len(folded))
	for i, l := range folded {
		names[i] = fmt.Sprintf("%s %q", Number(l.ID), l.Name)
	}
	return List{}, fmt.Errorf("%q names several lists when case is ignored (%s): give its number", v, strings.Join(names, ", "))
}

// ListsByName maps the name of each user list (a numbered one, not a
// system list) to the ids id gives its lists: more than one when names
// repeat, which a caller matching by name must treat as unknown.
func ListsByName(lists []List, id func(List) string) map[string][]string {
	m := map[string][]string{}
	for _, l := range lists {
		if IsNumber(Number(l.ID)) {
			m[l.Name] = append(m[l.Name], id(l))
		}
	}
	return m
}
