package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

var (
	durationType        = reflect.TypeFor[time.Duration]()
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	nodeType            = reflect.TypeFor[yaml.Node]()
)

// field is one key of a struct section.
type field struct {
	index []int // reflect field index path, through ",inline" fields
	typ   reflect.Type
}

// structInfo is the set of keys a struct type accepts.
type structInfo struct {
	fields    map[string]field
	keys      []string     // in declaration order
	inlineMap []int        // index path of a ",inline" map collecting unknown keys, or nil
	mapType   reflect.Type // its type
	err       error        // the struct cannot be decoded into (a bug in totemd, not in the file)
}

var structInfos sync.Map // reflect.Type -> *structInfo

// getStructInfo returns the keys of struct type t.
func getStructInfo(t reflect.Type) *structInfo {
	if info, ok := structInfos.Load(t); ok {
		return info.(*structInfo)
	}
	info := buildStructInfo(t, map[reflect.Type]bool{})
	structInfos.Store(t, info)
	return info
}

// buildStructInfo computes the keys of t; inlining lists the struct types
// being inlined, to refuse inline loops.
func buildStructInfo(t reflect.Type, inlining map[reflect.Type]bool) *structInfo {
	info := &structInfo{fields: map[string]field{}}
	fail := func(format string, args ...any) *structInfo {
		info.err = fmt.Errorf("Go type %v: "+format, append([]any{t}, args...)...)
		return info
	}
	add := func(name string, f field) *structInfo {
		if _, dup := info.fields[name]; dup {
			return fail("two fields use the key %q", name)
		}
		info.fields[name] = f
		info.keys = append(info.keys, name)
		return nil
	}
	inlining[t] = true
	defer delete(inlining, t)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "" && !strings.Contains(string(f.Tag), ":") {
			tag = string(f.Tag) // yaml.v3 accepts a bare `name` tag
		}
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		inline := false
		if opts != "" {
			for _, o := range strings.Split(opts, ",") {
				switch o {
				case "inline":
					inline = true
				case "omitempty", "flow":
				default:
					return fail("field %s: unsupported yaml tag option %q", f.Name, o)
				}
			}
		}
		if !f.IsExported() && !(inline && f.Anonymous) {
			continue
		}
		if !inline {
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if r := add(name, field{index: []int{i}, typ: f.Type}); r != nil {
				return r
			}
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Map {
			if info.inlineMap != nil {
				return fail("more than one inline map")
			}
			if ft.Key().Kind() != reflect.String {
				return fail("inline map field %s must have string keys", f.Name)
			}
			info.inlineMap, info.mapType = []int{i}, ft
			continue
		}
		st := ft
		if st.Kind() == reflect.Pointer {
			if !f.IsExported() {
				return fail("inline field %s is an unexported pointer", f.Name)
			}
			st = st.Elem()
		}
		if st.Kind() != reflect.Struct {
			return fail("inline field %s is not a struct or map", f.Name)
		}
		if inlining[st] {
			return fail("inline field %s includes itself", f.Name)
		}
		sub := buildStructInfo(st, inlining)
		if sub.err != nil {
			info.err = sub.err
			return info
		}
		for _, k := range sub.keys {
			sf := sub.fields[k]
			if r := add(k, field{index: append([]int{i}, sf.index...), typ: sf.typ}); r != nil {
				return r
			}
		}
		if sub.inlineMap != nil {
			if info.inlineMap != nil {
				return fail("more than one inline map")
			}
			info.inlineMap, info.mapType = append([]int{i}, sub.inlineMap...), sub.mapType
		}
	}
	return info
}

// fieldByIndex returns the field of struct v at index, allocating the nil
// pointers to inlined structs on the way.
func fieldByIndex(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

// decodesItself reports whether values of type t are decoded by their own
// methods or as a single value rather than as a section.
func decodesItself(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t == durationType || t == nodeType || pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType)
}

// suggest returns the key among keys closest to name, or "" if none is close:
// same letters ignoring case, '-' and '_' (best); an edit distance of 1; one
// being a prefix of the other, at least 3 letters long; an edit distance of 2
// (for names of 3 letters or more).
func suggest(name string, keys []string) string {
	best, bestScore := "", 100
	for _, k := range keys {
		if s := closeness(name, k); s < bestScore {
			best, bestScore = k, s
		}
	}
	return best
}

// closeness scores how close key k is to the unknown name: lower is closer,
// 100 is not close.
func closeness(name, k string) int {
	if squash(name) == squash(k) {
		return 0
	}
	a, b := strings.ToLower(name), strings.ToLower(k)
	if len(a)-len(b) <= 2 && len(b)-len(a) <= 2 {
		if d := editDistance(a, b); d == 1 || d == 2 && len(a) > 2 {
			return 2 * d // 2 or 4
		}
	}
	short := min(len(a), len(b))
	if short >= 3 && (strings.HasPrefix(a, b) || strings.HasPrefix(b, a)) {
		return 3
	}
	return 100
}

// squash lower-cases s and removes '_' and '-'.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' {
			return -1
		}
		return r
	}, strings.ToLower(s))
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent bytes.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// keyHomes returns where else in the configuration rooted at type root the
// key name is valid, as section paths ("api", "catalog.services[]",
// "printers.<name>", "" for the top level), at most limit of them.
func keyHomes(root reflect.Type, name string, limit int) []string {
	var homes []string
	visits := 0
	onPath := map[reflect.Type]bool{}
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		visits++
		if len(homes) >= limit || visits > 1000 || decodesItself(t) {
			return
		}
		switch t.Kind() {
		case reflect.Slice, reflect.Array:
			walk(t.Elem(), path+"[]")
		case reflect.Map:
			walk(t.Elem(), joinPath(path, "<name>"))
		case reflect.Struct:
			if onPath[t] {
				return
			}
			onPath[t] = true
			defer delete(onPath, t)
			info := getStructInfo(t)
			if info.err != nil {
				return
			}
			if _, ok := info.fields[name]; ok {
				homes = append(homes, path)
			}
			for _, k := range info.keys {
				walk(info.fields[k].typ, joinPath(path, k))
			}
		}
	}
	walk(root, "")
	return homes
}
