package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Pos is where a key stands in the file. Line and Column count from 1.
type Pos struct{ Line, Column int }

// Positions maps a dotted field path ("api.listen", "catalog.services[0].sku")
// to where its key stands. A list item's path ("catalog.services[0]") maps to
// where the item starts. Keys inside values that decode themselves
// (yaml.Unmarshaler, interface{}) are not recorded.
type Positions map[string]Pos

// Error is one problem in a config file.
type Error struct {
	File         string // file name as given to Decode or Annotate
	Line, Column int    // 0 when unknown
	Path         string // dotted path, e.g. "catalog.services[1].price_cents"; "" for the whole file
	Msg          string // what is wrong and how to fix it
}

// Error formats e as "file:line:column: path: msg", leaving out the parts that
// are unknown, e.g. `totemd.yaml:12:5: api.lisen: unknown key "lisen" (did you
// mean "listen"?)` or "totemd.yaml: kiosk.id: ...".
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "":
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
			if e.Column > 0 {
				b.WriteString(":" + strconv.Itoa(e.Column))
			}
		}
		b.WriteString(": ")
	case e.Line > 0:
		b.WriteString("line " + strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(", column " + strconv.Itoa(e.Column))
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is several problems, sorted by line (problems without a line last).
// Decode and Annotate return a lone problem as a plain *Error and several as
// Errors; errors.As(err, &e) with e of type *Error finds the first in both
// cases.
type Errors []*Error

// Error prints one problem per line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, x := range e {
		lines[i] = x.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so that errors.Is and errors.As see each one.
func (e Errors) Unwrap() []error {
	out := make([]error, len(e))
	for i, x := range e {
		out[i] = x
	}
	return out
}

// sortErrors orders errs by line and column, keeping those without a line
// last and the order of equal positions.
func sortErrors(errs Errors) {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if (a.Line == 0) != (b.Line == 0) {
			return b.Line == 0
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// result turns a list of problems into nil, a lone *Error or Errors.
func result(errs Errors) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	sortErrors(errs)
	return errs
}

// FieldError is what Validate methods return for a field: Path is relative to
// the section being validated ("" for the section itself), Msg says what is
// wrong and how to fix it.
type FieldError struct{ Path, Msg string }

// Error returns "path: msg", or just msg when Path is empty.
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errorf builds a *FieldError for path with a message formatted as by
// fmt.Errorf (a %w verb is rendered, but not kept for errors.Is).
func Errorf(path, format string, args ...any) error {
	return &FieldError{Path: path, Msg: fmt.Errorf(format, args...).Error()}
}

// Within prefixes the paths of every FieldError inside err with prefix + "."
// (or just prefix when the path is empty or starts with a list index "[").
// err may be a *FieldError, an errors.Join of them, or nested Within results;
// any other error, including one that wraps a FieldError with fmt.Errorf, is
// turned into a FieldError whose path is prefix and whose message is
// err.Error(). Within returns nil for a nil err.
func Within(prefix string, err error) error {
	if err == nil {
		return nil
	}
	if fe, ok := err.(*FieldError); ok {
		return &FieldError{Path: joinPath(prefix, fe.Path), Msg: fe.Msg}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, x := range j.Unwrap() {
			if w := Within(prefix, x); w != nil {
				out = append(out, w)
			}
		}
		return errors.Join(out...)
	}
	return &FieldError{Path: prefix, Msg: err.Error()}
}

// joinPath appends the relative path rel to prefix.
func joinPath(prefix, rel string) string {
	switch {
	case prefix == "":
		return rel
	case rel == "":
		return prefix
	case rel[0] == '[':
		return prefix + rel
	}
	return prefix + "." + rel
}

// parentPath strips the last component (".key" or "[i]") from path.
func parentPath(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// Annotate turns the FieldErrors inside err into problems that carry the file
// name and the line and column of their path's key, or of its nearest parent
// path that has a position: a missing required key thus points at its parent
// section, or has no line when that section is absent too. It walks
// errors.Join trees, Errors and fmt.Errorf wrapping (the wrapping text is
// dropped when it wraps FieldErrors; use Within to add context instead).
// Errors that are neither FieldErrors nor *Error are kept as an *Error with
// just the file name and their text. A lone problem is returned as *Error,
// several as Errors sorted by line; a nil err gives nil.
func (p Positions) Annotate(file string, err error) error {
	if err == nil {
		return nil
	}
	var out Errors
	p.collect(file, err, &out)
	return result(out)
}

// collect appends the problems found in err to out.
func (p Positions) collect(file string, err error, out *Errors) {
	switch e := err.(type) {
	case *FieldError:
		*out = append(*out, p.locate(file, e.Path, e.Msg))
		return
	case *Error:
		c := *e
		if c.File == "" {
			c.File = file
		}
		*out = append(*out, &c)
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, x := range j.Unwrap() {
			if x != nil {
				p.collect(file, x, out)
			}
		}
		return
	}
	var fe *FieldError
	if inner := errors.Unwrap(err); inner != nil && errors.As(inner, &fe) {
		p.collect(file, inner, out)
		return
	}
	*out = append(*out, &Error{File: file, Msg: err.Error()})
}

// locate builds the *Error for a FieldError at path.
func (p Positions) locate(file, path, msg string) *Error {
	e := &Error{File: file, Path: path, Msg: msg}
	for q := path; q != ""; q = parentPath(q) {
		if pos, ok := p[q]; ok {
			e.Line, e.Column = pos.Line, pos.Column
			break
		}
	}
	return e
}
