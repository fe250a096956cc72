package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Decode decodes one YAML document from data into out (a non-nil pointer to a
// struct that the caller has pre-filled with defaults: keys absent from the
// YAML keep their defaults, and so do keys whose value is null). name is the
// file name used in messages. Strict: an unknown key, a duplicate key, a value
// of the wrong type, more than one document, or an empty document is an error.
// The package documentation lists the rules in full.
//
// Decode returns the positions of every key seen, for annotating later
// validation errors with [Positions.Annotate]; they are returned even with an
// error. The error is an [*Error] for a lone problem, or [Errors] sorted by
// line when there are several: all unknown-key and type problems are reported
// in one pass. On error, out may have been partly filled. A nil or non-pointer
// out is a programming error, reported as a plain error.
func Decode(name string, data []byte, out any) (Positions, error) {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("config.Decode: out must be a non-nil pointer to a struct, got %T", out)
	}
	pos := Positions{}
	root, err := parse(name, data)
	if err != nil {
		return pos, err
	}
	d := &decoder{
		file:   name,
		root:   rv.Elem().Type(),
		pos:    pos,
		active: map[*yaml.Node]bool{},
		budget: 10*countNodes(root) + 10000,
	}
	if root.Kind != yaml.MappingNode {
		d.errAt(root, "", "the top level of the file must be %s, got %s", sectionWords, describe(root))
		return pos, result(d.errs)
	}
	d.decode(root, rv.Elem(), "")
	return pos, result(d.errs)
}

// parse reads the single document of data and returns its root node.
func parse(name string, data []byte) (root *yaml.Node, err error) {
	defer func() {
		// The parser is a port of libyaml; should it ever panic on odd input,
		// a kiosk must get an error, not a crash.
		if r := recover(); r != nil {
			root, err = nil, &Error{File: name, Msg: fmt.Sprintf("the YAML parser failed on this file (%v); look for unusual characters or structure", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Msg: "the file is empty"}
		}
		return nil, syntaxError(name, data, err)
	}
	if len(doc.Content) == 0 || isEmpty(doc.Content[0]) {
		return nil, &Error{File: name, Msg: "the file is empty"}
	}
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, syntaxError(name, data, err)
		}
		if len(next.Content) > 0 && !isEmpty(next.Content[0]) {
			n := next.Content[0]
			return nil, &Error{File: name, Line: n.Line, Column: n.Column,
				Msg: `a second YAML document starts here, but the file must hold only one; remove the "---" line before it`}
		}
	}
	return doc.Content[0], nil
}

// isEmpty reports whether n is what an empty document holds.
func isEmpty(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "" && n.Tag == "!!null" && n.Anchor == ""
}

var yamlLineRE = regexp.MustCompile(`^line (\d+): `)

// syntaxHints explain the parser's most common complaints.
var syntaxHints = []struct{ problem, hint string }{
	{"did not find expected key", "check the indentation: the keys of one section must start in the same column"},
	{"mapping values are not allowed", `if a value contains ": ", put it in quotes; otherwise check the indentation`},
	{"could not find expected ':'", `each setting must be written as "key: value"`},
	{"found unexpected end of stream", "a quote or bracket is probably not closed"},
	{"did not find expected ',' or ']'", "a [ list ] is probably not closed"},
	{"did not find expected ',' or '}'", "a { section } is probably not closed"},
	{"unknown anchor", "an alias *name needs an anchor &name earlier in the file"},
	{"tab character", "YAML indentation must use spaces, not tabs"},
}

// syntaxError turns a yaml parse error into an *Error with its line.
func syntaxError(name string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: name}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	hint := ""
	for _, h := range syntaxHints {
		if strings.Contains(msg, h.problem) {
			hint = h.hint
			break
		}
	}
	if hint == "" && e.Line > 0 && strings.Contains(msg, "cannot start any token") {
		lines := bytes.Split(data, []byte("\n"))
		if e.Line <= len(lines) && bytes.Contains(lines[e.Line-1], []byte("\t")) {
			hint = "YAML indentation must use spaces, not tabs"
		}
	}
	e.Msg = "invalid YAML: " + msg
	if hint != "" {
		e.Msg += "; " + hint
	}
	return e
}

// countNodes counts the nodes of the tree at n, not following aliases.
func countNodes(n *yaml.Node) int {
	c := 1
	for _, x := range n.Content {
		c += countNodes(x)
	}
	return c
}

// decoder walks a node tree alongside the Go value it fills.
type decoder struct {
	file   string
	root   reflect.Type
	pos    Positions
	errs   Errors
	active map[*yaml.Node]bool // anchored nodes being decoded, to catch an anchor containing itself
	budget int                 // nodes left to visit, to stop aliases expanding without end
	dups   map[*yaml.Node]bool // duplicate keys already reported
	homes  map[string][]string // cache of keyHomes
}

// Words used in messages.
const (
	sectionWords = `"key: value" lines`
	listWords    = `a list ("- item" lines, or [a, b])`
	durationHelp = "write it like 90s, 5m or 1h30m"
)

// errAt records a problem at node n (nil: no position).
func (d *decoder) errAt(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// describe names what n holds, for "got ..." messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a section of " + sectionWords
	case yaml.ScalarNode:
		return "the value " + quote(n.Value)
	}
	return "something else"
}

// quote quotes a value from the file for a message, shortening long ones.
func quote(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max]) + "…"
	}
	return strconv.Quote(s)
}

// isNull reports whether n is a null value: nothing, ~ or null.
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// resolve follows an alias node to its anchored node.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// decode fills v from node n; path is v's dotted path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	d.budget--
	if d.budget < 0 {
		if d.budget == -1 {
			d.errAt(n, path, "aliases expand this file far beyond its written size; use fewer aliases")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || d.active[n.Alias] {
			d.errAt(n, path, "the alias *%s is inside the value anchored as &%[1]s; a value cannot contain itself", n.Value)
			return
		}
		n = n.Alias
	}
	if n.Anchor != "" {
		d.active[n] = true
		defer delete(d.active, n)
	}
	if isNull(n) {
		return // null keeps the default
	}
	d.value(n, v, path)
}

// value fills v from the non-null, non-alias node n.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if v.CanAddr() && t.Kind() != reflect.Pointer {
		if u, ok := v.Addr().Interface().(yaml.Unmarshaler); ok {
			if err := u.UnmarshalYAML(n); err != nil {
				d.errAt(n, path, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
			}
			return
		}
		if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok && t != durationType {
			if n.Kind != yaml.ScalarNode {
				d.errAt(n, path, "expected a single value, got %s", describe(n))
			} else if err := u.UnmarshalText([]byte(n.Value)); err != nil {
				d.errAt(n, path, "%s is not valid here: %v", quote(n.Value), err)
			}
			return
		}
	}
	switch t {
	case durationType:
		d.duration(n, v, path)
		return
	case nodeType:
		v.Set(reflect.ValueOf(*n)) // the raw node, for the field's own code to read
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.value(n, v.Elem(), path)
	case reflect.Struct:
		d.structValue(n, v, path)
	case reflect.Map:
		d.mapValue(n, v, path)
	case reflect.Slice:
		d.sliceValue(n, v, path)
	case reflect.Array:
		d.arrayValue(n, v, path)
	case reflect.Interface:
		if t.NumMethod() != 0 {
			d.errAt(n, path, "internal error (not a problem in the file): cannot decode into Go type %v", t)
			return
		}
		var x any
		if err := n.Decode(&x); err != nil {
			d.errAt(n, path, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.String, reflect.Bool, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		d.scalar(n, v, path)
	default:
		d.errAt(n, path, "internal error (not a problem in the file): cannot decode into Go type %v", t)
	}
}

// pair is one key: value entry of a mapping.
type pair struct {
	key  *yaml.Node // the key as written (for its position)
	name string     // the key's text
	val  *yaml.Node
}

// pairs lists the entries of mapping n, reporting duplicate and non-scalar
// keys, and resolving merge keys ("<<: *defaults"): entries written in n win
// over merged ones, and earlier merged mappings over later ones.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var out []pair
	seen := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			merges = append(merges, val)
			continue
		}
		kr := resolve(k)
		if kr.Kind != yaml.ScalarNode {
			d.errAt(k, path, "a key must be a plain name, got %s", describe(kr))
			continue
		}
		if first, dup := seen[kr.Value]; dup {
			if d.dups == nil {
				d.dups = map[*yaml.Node]bool{}
			}
			if !d.dups[k] {
				d.dups[k] = true
				where := fmt.Sprintf("on lines %d and %d", first.Line, k.Line)
				if first.Line == k.Line {
					where = fmt.Sprintf("on line %d", k.Line)
				}
				d.errAt(k, joinPath(path, kr.Value), "key %s appears twice, %s; keep only one", quote(kr.Value), where)
			}
			continue
		}
		seen[kr.Value] = k
		out = append(out, pair{key: k, name: kr.Value, val: val})
	}
	for _, m := range merges {
		for _, src := range d.mergeSources(m, path) {
			for _, p := range d.mergedPairs(src, path) {
				if _, dup := seen[p.name]; !dup {
					seen[p.name] = p.key
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// mergeSources returns the mappings named by the value of a "<<" key.
func (d *decoder) mergeSources(m *yaml.Node, path string) []*yaml.Node {
	const help = `"<<" must be followed by an alias to a section, like "<<: *defaults", or a list of them`
	r := resolve(m)
	switch r.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{m}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, item := range r.Content {
			if resolve(item).Kind != yaml.MappingNode {
				d.errAt(item, path, "%s", help)
				continue
			}
			out = append(out, item)
		}
		return out
	}
	d.errAt(m, path, "%s", help)
	return nil
}

// mergedPairs returns the entries of the merged mapping src (which may be an
// alias), guarding against a mapping that merges itself.
func (d *decoder) mergedPairs(src *yaml.Node, path string) []pair {
	d.budget--
	if d.budget < 0 {
		return nil
	}
	r := resolve(src)
	if d.active[r] || (src.Kind == yaml.AliasNode && src.Alias == nil) {
		d.errAt(src, path, "the alias *%s is inside the value anchored as &%[1]s; a value cannot contain itself", src.Value)
		return nil
	}
	d.active[r] = true
	defer delete(d.active, r)
	return d.pairs(r, path)
}

// structValue fills the struct v from mapping n.
func (d *decoder) structValue(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errAt(n, path, "expected a section of %s, got %s", sectionWords, describe(n))
		return
	}
	info := getStructInfo(v.Type())
	if info.err != nil {
		d.errAt(n, path, "internal error (not a problem in the file): %v", info.err)
		return
	}
	var extra reflect.Value // the inline map, once made
	for _, p := range d.pairs(n, path) {
		fpath := joinPath(path, p.name)
		f, ok := info.fields[p.name]
		if !ok && info.inlineMap == nil {
			d.errAt(p.key, fpath, "%s", d.unknownKey(p.name, info.keys, path == ""))
			continue
		}
		d.pos[fpath] = Pos{p.key.Line, p.key.Column}
		if ok {
			d.decode(p.val, fieldByIndex(v, f.index), fpath)
			continue
		}
		if !extra.IsValid() {
			extra = fieldByIndex(v, info.inlineMap)
			if extra.IsNil() {
				extra.Set(reflect.MakeMap(info.mapType))
			}
		}
		ev := reflect.New(info.mapType.Elem()).Elem()
		d.decode(p.val, ev, fpath)
		extra.SetMapIndex(reflect.ValueOf(p.name).Convert(info.mapType.Key()), ev)
	}
}

// unknownKey words the message for an unknown key name in a section whose
// valid keys are keys.
func (d *decoder) unknownKey(name string, keys []string, top bool) string {
	msg := "unknown key " + quote(name)
	if s := suggest(name, keys); s != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", s)
	}
	homes, ok := d.homes[name]
	if !ok {
		homes = keyHomes(d.root, name, 3)
		if d.homes == nil {
			d.homes = map[string][]string{}
		}
		d.homes[name] = homes
	}
	if len(homes) > 0 && len(homes) < 3 { // a key found in many places is too common a word to be a clue
		where := make([]string, len(homes))
		for i, h := range homes {
			if h == "" {
				where[i] = "the top level"
			} else {
				where[i] = h
			}
		}
		return msg + fmt.Sprintf("; it is a key of %s, not of this section: check the indentation", strings.Join(where, ", "))
	}
	switch {
	case len(keys) == 0:
		return msg + "; this section takes no keys"
	case top:
		return msg + "; valid top-level keys are: " + strings.Join(keys, ", ")
	}
	return msg + "; valid keys here are: " + strings.Join(keys, ", ")
}

// mapValue replaces the map v with the entries of mapping n.
func (d *decoder) mapValue(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errAt(n, path, "expected a section of %s, got %s", sectionWords, describe(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMap(t)
	for _, p := range d.pairs(n, path) {
		kpath := joinPath(path, p.name)
		kv := reflect.New(t.Key()).Elem()
		if t.Key().Kind() == reflect.String {
			kv.SetString(p.name)
		} else {
			before := len(d.errs)
			d.value(resolve(p.key), kv, kpath)
			if len(d.errs) > before {
				continue
			}
		}
		d.pos[kpath] = Pos{p.key.Line, p.key.Column}
		ev := reflect.New(t.Elem()).Elem()
		d.decode(p.val, ev, kpath)
		m.SetMapIndex(kv, ev)
	}
	v.Set(m)
}

// sliceValue replaces the slice v with the items of sequence n.
func (d *decoder) sliceValue(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errAt(n, path, "expected %s, got %s", listWords, describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	d.items(n, s, path)
	v.Set(s)
}

// arrayValue fills the array v from sequence n, which must have as many items.
func (d *decoder) arrayValue(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errAt(n, path, "expected %s, got %s", listWords, describe(n))
		return
	}
	if len(n.Content) != v.Len() {
		d.errAt(n, path, "expected a list of exactly %d items, got %d", v.Len(), len(n.Content))
		return
	}
	a := reflect.New(v.Type()).Elem()
	d.items(n, a, path)
	v.Set(a)
}

// items decodes the items of sequence n into the elements of s.
func (d *decoder) items(n *yaml.Node, s reflect.Value, path string) {
	for i, item := range n.Content {
		ipath := path + "[" + strconv.Itoa(i) + "]"
		d.pos[ipath] = Pos{item.Line, item.Column}
		d.decode(item, s.Index(i), ipath)
	}
}

// scalar sets the string, bool or number v from scalar n.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.errAt(n, path, "expected a single value, got %s", describe(n))
		return
	}
	s := n.Value
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		switch strings.ToLower(s) {
		case "true", "yes", "on":
			v.SetBool(true)
		case "false", "no", "off":
			v.SetBool(false)
		default:
			d.errAt(n, path, "%s is not true or false", quote(s))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		lo, hi := int64(math.MinInt64)>>(64-v.Type().Bits()), int64(math.MaxInt64)>>(64-v.Type().Bits())
		text, base := numberText(s)
		i, err := strconv.ParseInt(text, base, 64)
		switch {
		case errors.Is(err, strconv.ErrRange) || err == nil && (i < lo || i > hi):
			d.errAt(n, path, "%s is out of range; it must be a whole number from %d to %d", quote(s), lo, hi)
		case err != nil:
			d.errAt(n, path, "%s is not a whole number", quote(s))
		default:
			v.SetInt(i)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		hi := uint64(math.MaxUint64) >> (64 - v.Type().Bits())
		text, base := numberText(s)
		u, err := strconv.ParseUint(text, base, 64)
		if err != nil && strings.HasPrefix(text, "-") {
			if _, serr := strconv.ParseInt(text, base, 64); serr == nil || errors.Is(serr, strconv.ErrRange) {
				err = strconv.ErrRange // a negative whole number
			}
		}
		switch {
		case errors.Is(err, strconv.ErrRange) || err == nil && u > hi:
			d.errAt(n, path, "%s is out of range; it must be a whole number from 0 to %d", quote(s), hi)
		case err != nil:
			d.errAt(n, path, "%s is not a whole number", quote(s))
		default:
			v.SetUint(u)
		}
	case reflect.Float32, reflect.Float64:
		f, err := parseFloat(s)
		switch {
		case errors.Is(err, strconv.ErrRange) || err == nil && v.OverflowFloat(f):
			d.errAt(n, path, "%s is out of range", quote(s))
		case err != nil:
			d.errAt(n, path, "%s is not a number", quote(s))
		default:
			v.SetFloat(f)
		}
	}
}

// numberText prepares a whole number for strconv: with a 0x, 0o or 0b prefix
// it goes as is to base 0 (Go rules, _ allowed between digits); otherwise the
// _ separators are dropped and it is read in base 10, so 0012 is 12.
func numberText(s string) (string, int) {
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 {
		return s, 10 // "--1": let strconv reject it
	}
	if len(body) > 1 && body[0] == '0' && strings.ContainsRune("xXoObB", rune(body[1])) {
		return s, 0
	}
	if strings.HasPrefix(body, "_") || strings.HasSuffix(body, "_") {
		return s, 10
	}
	return strings.ReplaceAll(s, "_", ""), 10
}

// parseFloat reads a number, including YAML's .inf, -.inf and .nan.
func parseFloat(s string) (float64, error) {
	switch strings.ToLower(strings.TrimPrefix(s, "+")) {
	case ".inf":
		return math.Inf(1), nil
	case "-.inf":
		return math.Inf(-1), nil
	case ".nan":
		return math.NaN(), nil
	}
	text, _ := numberText(s)
	return strconv.ParseFloat(text, 64)
}

// duration sets the time.Duration v from scalar n.
func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.errAt(n, path, "expected a duration (%s), got %s", durationHelp, describe(n))
		return
	}
	s := n.Value
	if dur, err := time.ParseDuration(s); err == nil {
		v.SetInt(int64(dur))
		return
	}
	if isDecimal(s) && len(s) <= 20 {
		d.errAt(n, path, "%s has no unit; add one, like %ss, %sm or %sh", quote(s), s, s, s)
		return
	}
	if text, ok := strings.CutSuffix(s, "d"); ok && isDecimal(text) {
		if days, err := strconv.ParseFloat(text, 64); err == nil && math.Abs(days) < 1e5 {
			d.errAt(n, path, "%s is not a duration: days are not a unit here; write %sh", quote(s), strconv.FormatFloat(days*24, 'f', -1, 64))
			return
		}
	}
	d.errAt(n, path, "%s is not a duration; %s", quote(s), durationHelp)
}

// isDecimal reports whether s is a plain decimal number such as 90, -5 or 1.5.
func isDecimal(s string) bool {
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	if len(s) == 0 || s == "." {
		return false
	}
	dot := false
	for _, c := range s {
		switch {
		case c == '.' && !dot:
			dot = true
		case c < '0' || c > '9':
			return false
		}
	}
	return true
}
