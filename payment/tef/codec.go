package tef

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// MaxMessageSize is the largest message Parse reads and Encode writes, in bytes.
const MaxMessageSize = 1 << 20

// Errors of the codec. They come wrapped with the details: test them with errors.Is.
var (
	// ErrNoTrailer: the message does not end with 999-999 = 0. It is incomplete (a file still
	// being written, a read that stopped early): read it again later, or drop it.
	ErrNoTrailer = errors.New("tef: incomplete message (no 999-999 = 0 trailer)")
	// ErrMalformed: a line is not "NNN-NNN = value", the message is too big, or an amount is
	// not an amount.
	ErrMalformed = errors.New("tef: malformed message")
	// ErrForeignID: a response that does not answer the request (other command or id).
	ErrForeignID = errors.New("tef: response to another request")
	// ErrEncode: Encode cannot write the message (see Message.Encode).
	ErrEncode = errors.New("tef: cannot encode message")
)

const (
	maxFieldID = 999_999_999 // 9 digits, what Parse reads
	trailerID  = 999
	trailerSeq = 999
)

// Field is one line: id-seq = value.
type Field struct {
	ID, Seq int
	Value   string
}

// Message is a TEF Dial message: its fields in order (unknown ones kept, never an error).
// A parsed message ends with its 999-999 = 0 trailer field; a built one need not hold it.
type Message struct {
	Fields []Field
}

// New starts a request: 000-000 = command, 001-000 = id.
func New(command string, id uint64) *Message {
	m := &Message{Fields: make([]Field, 0, 16)}
	m.Set(0, 0, command)
	m.Set(1, 0, strconv.FormatUint(id, 10))
	return m
}

// Get returns the value of id-seq and whether the message holds it.
func (m *Message) Get(id, seq int) (string, bool) {
	if m == nil {
		return "", false
	}
	for _, f := range m.Fields {
		if f.ID == id && f.Seq == seq {
			return f.Value, true
		}
	}
	return "", false
}

// Value returns the value of id-seq, "" if absent.
func (m *Message) Value(id, seq int) string {
	v, _ := m.Get(id, seq)
	return v
}

// Set replaces the value of id-seq in place, or appends the field (keeping the order of the
// others). An empty v removes the field: TEF Dial does not write empty values.
func (m *Message) Set(id, seq int, v string) {
	found := false
	out := m.Fields[:0]
	for _, f := range m.Fields {
		if f.ID == id && f.Seq == seq {
			if found || v == "" {
				continue
			}
			f.Value, found = v, true
		}
		out = append(out, f)
	}
	clear(m.Fields[len(out):])
	m.Fields = out
	if !found && v != "" {
		m.Fields = append(m.Fields, Field{ID: id, Seq: seq, Value: v})
	}
}

// Command returns 000-000: ATV, ADM, CRT, CNC, CNF, NCN.
func (m *Message) Command() string { return m.Value(0, 0) }

// RequestID returns 001-000, the id the manager echoes.
func (m *Message) RequestID() string { return m.Value(1, 0) }

// Encode writes the message in CP1252: "NNN-NNN = value\r\n" lines in the order of Fields (ids
// below 1000 as 3 digits, bigger ones with as many as needed; seq as 3 digits), fields with an
// empty value left out, and "999-999 = 0" last (added if absent, moved last and written as 0
// if present). It fails with ErrEncode when a value holds a control character (CR, LF, tab,
// C1 controls: they would break or blur the line format) or a rune CP1252 cannot hold (no
// transliteration: callers wanting printable ASCII in requests, as the spec advises, must
// write it), when an id or seq is out of range (id 0..999999999, seq 0..999), when an id-seq
// appears twice with values, or when the result exceeds MaxMessageSize.
func (m *Message) Encode() ([]byte, error) {
	var fields []Field
	if m != nil {
		fields = m.Fields
	}
	n := len("999-999 = 0\r\n")
	for _, f := range fields {
		n += len(f.Value) + 16
	}
	b := make([]byte, 0, n)
	var seen map[[2]int]bool
	if len(fields) > 8 {
		seen = make(map[[2]int]bool, len(fields))
	}
	for i, f := range fields {
		if f.Value == "" || f.ID == trailerID && f.Seq == trailerSeq {
			continue
		}
		if f.ID < 0 || f.ID > maxFieldID || f.Seq < 0 || f.Seq > 999 {
			return nil, fmt.Errorf("%w: field %d-%d: id or seq out of range", ErrEncode, f.ID, f.Seq)
		}
		if dup := seen[[2]int{f.ID, f.Seq}]; dup || seen == nil && slices.ContainsFunc(fields[:i], func(g Field) bool {
			return g.ID == f.ID && g.Seq == f.Seq && g.Value != ""
		}) {
			return nil, fmt.Errorf("%w: field %s twice", ErrEncode, fieldKey(f.ID, f.Seq))
		}
		if seen != nil {
			seen[[2]int{f.ID, f.Seq}] = true
		}
		b = appendKey(b, f.ID, f.Seq)
		b = append(b, " = "...)
		var err error
		if b, err = appendCP1252(b, f.Value); err != nil {
			return nil, fmt.Errorf("%w: field %s: %v in %q", ErrEncode, fieldKey(f.ID, f.Seq), err, cut(f.Value))
		}
		b = append(b, '\r', '\n')
		if len(b) > MaxMessageSize {
			break
		}
	}
	b = append(b, "999-999 = 0\r\n"...)
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrEncode, MaxMessageSize)
	}
	return b, nil
}

func appendKey(b []byte, id, seq int) []byte {
	if id < 100 {
		b = append(b, '0')
		if id < 10 {
			b = append(b, '0')
		}
	}
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, '-', byte('0'+seq/100), byte('0'+seq/10%10), byte('0'+seq%10))
	return b
}

func fieldKey(id, seq int) string {
	if id < 0 || seq < 0 || seq > 999 {
		return fmt.Sprintf("%d-%d", id, seq)
	}
	return string(appendKey(nil, id, seq))
}

// appendCP1252 appends s, UTF-8, as CP1252.
func appendCP1252(b []byte, s string) ([]byte, error) {
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return b, fmt.Errorf("control character %U", r)
		case r < utf8.RuneSelf:
			b = append(b, byte(r))
		default:
			c, ok := charmap.Windows1252.EncodeRune(r)
			if !ok {
				return b, fmt.Errorf("%U not in CP1252", r)
			}
			b = append(b, c)
		}
	}
	return b, nil
}

// Parse reads a message (CP1252, or UTF-8 after a byte order mark). The last non-blank line
// must be 999-999 = 0, else ErrNoTrailer; a line that is not a field is ErrMalformed. The
// leniency rules are in the package documentation. The result holds the fields in the order
// of the data, the 999-999 trailer last.
func Parse(data []byte) (*Message, error) {
	if len(data) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(data), MaxMessageSize)
	}
	text := data
	if rest, ok := bytes.CutPrefix(data, []byte("\xEF\xBB\xBF")); ok {
		if !utf8.Valid(rest) {
			return nil, fmt.Errorf("%w: UTF-8 byte order mark, but the text is not UTF-8", ErrMalformed)
		}
		text = rest
	} else {
		text = decodeCP1252(data)
	}
	body := bytes.TrimRight(text, " \t\r\n\x00\x1a")
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrNoTrailer)
	}
	lastStart := bytes.LastIndexByte(body, '\n') + 1
	if !isTrailer(body[lastStart:]) {
		return nil, fmt.Errorf("%w: last line %q", ErrNoTrailer, cut(string(body[lastStart:])))
	}
	m := &Message{Fields: make([]Field, 0, bytes.Count(body, []byte{'\n'})+1)}
	index := make(map[[2]int]int, cap(m.Fields))
	removed := false
	rest := body[:lastStart]
	for lineNo := 1; len(rest) > 0; lineNo++ {
		line, next, _ := bytes.Cut(rest, []byte{'\n'})
		rest = next
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if isBlank(line) {
			continue
		}
		id, seq, val, ok := parseLine(line)
		if !ok {
			return nil, fmt.Errorf("%w: line %d: %q", ErrMalformed, lineNo, cut(string(line)))
		}
		if id == trailerID && seq == trailerSeq {
			return nil, fmt.Errorf("%w: line %d: trailer %q before the end", ErrMalformed, lineNo, cut(string(line)))
		}
		key := [2]int{id, seq}
		if i, ok := index[key]; ok {
			m.Fields[i].Value = string(val) // the last one wins; "" marks it removed
			removed = removed || len(val) == 0
			continue
		}
		if len(val) == 0 {
			continue
		}
		index[key] = len(m.Fields)
		m.Fields = append(m.Fields, Field{ID: id, Seq: seq, Value: string(val)})
	}
	if removed {
		m.Fields = slices.DeleteFunc(m.Fields, func(f Field) bool { return f.Value == "" })
	}
	m.Fields = append(m.Fields, Field{ID: trailerID, Seq: trailerSeq, Value: "0"})
	return m, nil
}

// decodeCP1252 returns data as UTF-8 (data itself when it is ASCII).
func decodeCP1252(data []byte) []byte {
	i := 0
	for i < len(data) && data[i] < utf8.RuneSelf {
		i++
	}
	if i == len(data) {
		return data
	}
	out := make([]byte, i, len(data)+len(data)/4+8)
	copy(out, data[:i])
	for _, c := range data[i:] {
		if c < utf8.RuneSelf {
			out = append(out, c)
		} else {
			out = utf8.AppendRune(out, charmap.Windows1252.DecodeByte(c))
		}
	}
	return out
}

// parseLine reads "NNN-NNN = value" (CR and LF already cut): 3 to 9 id digits, a dash, 3 seq
// digits, '=' with at most one space taken each side, the value as is.
func parseLine(line []byte) (id, seq int, val []byte, ok bool) {
	i := 0
	for i < len(line) && isDigit(line[i]) {
		id = id*10 + int(line[i]-'0')
		i++
		if i > 9 {
			return 0, 0, nil, false
		}
	}
	if i < 3 || len(line) < i+4 || line[i] != '-' || !isDigit(line[i+1]) || !isDigit(line[i+2]) || !isDigit(line[i+3]) {
		return 0, 0, nil, false
	}
	seq = int(line[i+1]-'0')*100 + int(line[i+2]-'0')*10 + int(line[i+3]-'0')
	i += 4
	if i < len(line) && line[i] == ' ' {
		i++
	}
	if i >= len(line) || line[i] != '=' {
		return 0, 0, nil, false
	}
	i++
	if i < len(line) && line[i] == ' ' {
		i++
	}
	return id, seq, line[i:], true
}

// isTrailer reports whether line (CR/LF cut or not) is 999-999 = 0.
func isTrailer(line []byte) bool {
	id, seq, val, ok := parseLine(bytes.TrimRight(line, "\r\n"))
	return ok && id == trailerID && seq == trailerSeq && string(bytes.Trim(val, " \t\r")) == "0"
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isBlank(line []byte) bool { return len(bytes.Trim(line, " \t\r\n")) == 0 }

// cut shortens s to 60 characters for error messages.
func cut(s string) string {
	if utf8.RuneCountInString(s) <= 60 {
		return s
	}
	return string([]rune(s)[:60]) + "…"
}

// Amount reads the amount in id-000: integer centavos ("1000" is R$ 10,00, leading zeros
// allowed) or, as some managers answer, reais with a decimal comma ("260,70", "260,7",
// "1.260,70" with thousands dots) or, unambiguously, a decimal dot with one or two decimals
// ("260.70"; "1.000" is refused). Spaces around it are ignored. ok reports whether the field is
// present; err (ErrMalformed) whether it is present but not an amount (negative included).
func (m *Message) Amount(id int) (cents int64, ok bool, err error) {
	v, ok := m.Get(id, 0)
	if !ok || v == "" {
		return 0, false, nil
	}
	cents, err = parseAmount(v)
	if err != nil {
		return 0, true, fmt.Errorf("%w: %s: amount %q", ErrMalformed, fieldKey(id, 0), cut(v))
	}
	return cents, true, nil
}

func parseAmount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	errAmount := errors.New("not an amount")
	whole, frac, decimal := strings.Cut(s, ",")
	if decimal {
		if strings.Contains(whole, ".") {
			groups := strings.Split(whole, ".")
			if len(groups[0]) < 1 || len(groups[0]) > 3 {
				return 0, errAmount
			}
			for _, g := range groups[1:] {
				if len(g) != 3 {
					return 0, errAmount
				}
			}
			whole = strings.Join(groups, "")
		}
	} else if w, f, dot := strings.Cut(s, "."); dot {
		whole, frac, decimal = w, f, true
	}
	if !allDigits(whole) || len(whole) == 0 {
		return 0, errAmount
	}
	if !decimal {
		if len(whole) > 18 {
			return 0, errAmount
		}
		return strconv.ParseInt(whole, 10, 64)
	}
	if len(whole) > 16 || len(frac) < 1 || len(frac) > 2 || !allDigits(frac) {
		return 0, errAmount
	}
	reais, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, err
	}
	c, _ := strconv.ParseInt(frac, 10, 64)
	if len(frac) == 1 {
		c *= 10
	}
	return reais*100 + c, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// FormatAmount writes centavos as TEF Dial wants them: 1000 is "1000" (R$ 10,00).
func FormatAmount(cents int64) string { return strconv.FormatInt(cents, 10) }

// Lines returns receipt lines: the count in countID-000, the lines in firstID-001 to
// firstID-NNN (Lines(28, 29) for 028/029), each with one leading and one trailing double quote
// stripped when the line is wrapped in them. When the count is absent, not a number, names a
// line that is missing, or is 0 while lines exist, it is ignored and every firstID line (seq 1
// and up) is returned in seq order; a valid count shorter than the lines present is obeyed.
func (m *Message) Lines(countID, firstID int) []string {
	lines := m.seqLines(firstID)
	if v, ok := m.Get(countID, 0); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		valid := err == nil && n >= 0 && n <= len(lines) && (n > 0 || len(lines) == 0)
		for i := 0; valid && i < n; i++ {
			valid = lines[i].Seq == i+1
		}
		if valid {
			lines = lines[:n]
		}
	}
	return unquoteLines(lines)
}

// CopyLines returns the lines of one of PayGo's receipt copies, 710..715-xxx: every id-xxx
// with seq 1 and up, in seq order, unquoted as in Lines. A count in id-000 is not a line and
// is not used; where a count and the lines are in two ids (count in 710-000, lines in
// 711-xxx), Lines(710, 711) checks it.
func (m *Message) CopyLines(id int) []string { return unquoteLines(m.seqLines(id)) }

// seqLines returns the fields id-001 and up, in seq order.
func (m *Message) seqLines(id int) []Field {
	if m == nil {
		return nil
	}
	var out []Field
	for _, f := range m.Fields {
		if f.ID == id && f.Seq >= 1 {
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(a, b Field) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

func unquoteLines(fs []Field) []string {
	if len(fs) == 0 {
		return nil
	}
	out := make([]string, len(fs))
	for i, f := range fs {
		s := f.Value
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
			s = s[1 : len(s)-1]
		}
		out[i] = s
	}
	return out
}

// Check validates a response (or the status message) against the request it answers: the
// same 000-000 command and the same 001-000 id, else ErrForeignID. Commands are compared
// ignoring case and surrounding spaces; all-digit ids numerically (a manager that pads
// "123" to "0000000123" still matches); an absent id never matches.
func Check(req, resp *Message) error {
	if req == nil || resp == nil {
		return fmt.Errorf("%w: no message", ErrForeignID)
	}
	rc, pc := strings.TrimSpace(req.Command()), strings.TrimSpace(resp.Command())
	ri, pi := strings.TrimSpace(req.RequestID()), strings.TrimSpace(resp.RequestID())
	if rc == "" || !strings.EqualFold(rc, pc) || !sameID(ri, pi) {
		return fmt.Errorf("%w: got %q id %q for %q id %q", ErrForeignID, cut(pc), cut(pi), rc, ri)
	}
	return nil
}

func sameID(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if allDigits(a) && allDigits(b) {
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	}
	return a == b
}

// SplitMessages is a bufio.SplitFunc for the TCP transport: a token is one message, from its
// first non-blank line up to and including the line end of its 999-999 line (blank lines
// between messages are skipped; a 999-999 line with another value than 0 still ends the token,
// so that Parse reports it instead of it swallowing the next message). At EOF, a last
// 999-999 line without a line end ends a token too; any other leftover that is not blank is
// ErrNoTrailer (the connection dropped mid-message). With no trailer in more than
// MaxMessageSize bytes it fails with ErrMalformed. bufio.Scanner's default buffer stops at 64
// KiB (bufio.ErrTooLong): give it scanner.Buffer(nil, MaxMessageSize+2) to accept every
// message Parse would.
func SplitMessages(data []byte, atEOF bool) (advance int, token []byte, err error) {
	start, pos := 0, 0
	for pos < len(data) {
		i := bytes.IndexByte(data[pos:], '\n')
		if i < 0 {
			break
		}
		end := pos + i + 1
		line := data[pos:end]
		switch {
		case start == pos && isBlank(line):
			start = end
		case isTrailerLine(line):
			return end, data[start:end], nil
		}
		pos = end
	}
	if atEOF {
		if isBlank(data[start:]) {
			return len(data), nil, nil
		}
		if isTrailerLine(data[pos:]) {
			return len(data), data[start:], nil
		}
		return len(data), nil, fmt.Errorf("%w: stream ended %d bytes into a message", ErrNoTrailer, len(data)-start)
	}
	if len(data)-start > MaxMessageSize {
		return start, nil, fmt.Errorf("%w: no 999-999 line in %d bytes", ErrMalformed, len(data)-start)
	}
	return start, nil, nil
}

// isTrailerLine reports whether line is a 999-999 line, whatever its value.
func isTrailerLine(line []byte) bool {
	id, seq, _, ok := parseLine(bytes.TrimRight(line, "\r\n"))
	return ok && id == trailerID && seq == trailerSeq
}
