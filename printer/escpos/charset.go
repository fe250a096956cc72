package escpos

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// Charset is a character table's content (not its slot number on a given
// printer): which characters the bytes 0x80..0xFF stand for.
type Charset string

// The character tables a Brazilian receipt can be printed in.
const (
	CP437   Charset = "CP437"   // IBM PC US; no Ã, Õ, Á, Í, Ó, Ú, Ê, Ô, À.
	CP850   Charset = "CP850"   // Multilingual Latin 1; no euro sign.
	CP858   Charset = "CP858"   // CP850 with the euro sign at 0xD5.
	CP860   Charset = "CP860"   // Portuguese; no euro sign.
	WPC1252 Charset = "WPC1252" // Windows-1252.
)

// Table is how a printer selects a charset: the command and its slot number
// there.
type Table struct {
	// Charset is the table's content.
	Charset Charset
	// Slot is n of the select command. Epson numbering: CP437 = 0,
	// CP850 = 2, CP860 = 3, WPC1252 = 16, CP858 = 19; other makers number
	// differently (Star CP860 = 6; Bematech in ESC/Bema mode CP860 = 4).
	Slot byte
	// Star selects with ESC GS t n (Star Line/StarPRNT mode) instead of
	// ESC t n. Star printers in ESC/POS emulation use ESC t n.
	Star bool
}

// codec maps runes to the bytes of one charset. It only ever holds bytes a
// printer prints as a character: never a C0 control (0x00..0x1F), never DEL.
type codec struct {
	ascii [128]byte // 0: not encodable
	high  map[rune]byte
}

func (c *codec) lookup(r rune) (byte, bool) {
	if r < 128 {
		b := c.ascii[r]
		return b, b != 0
	}
	b, ok := c.high[r]
	return b, ok
}

func newCodec(cm *charmap.Charmap) *codec {
	c := &codec{high: make(map[rune]byte, 128)}
	for i := 0x20; i <= 0xFF; i++ {
		if i == 0x7F {
			continue
		}
		r := rune(i)
		if cm != nil {
			r = cm.DecodeByte(byte(i))
		} else if i >= 0x80 {
			continue
		}
		if r == utf8.RuneError || unicode.IsControl(r) {
			continue
		}
		if r < 128 {
			if c.ascii[r] == 0 {
				c.ascii[r] = byte(i)
			}
			continue
		}
		if _, dup := c.high[r]; !dup {
			c.high[r] = byte(i)
		}
	}
	return c
}

var (
	codecs = map[Charset]*codec{
		CP437:   newCodec(charmap.CodePage437),
		CP850:   newCodec(charmap.CodePage850),
		CP858:   newCodec(charmap.CodePage858),
		CP860:   newCodec(charmap.CodePage860),
		WPC1252: newCodec(charmap.Windows1252),
	}
	asciiCodec = newCodec(nil)
)

// translit holds the replacements for characters a charset cannot hold; it is
// consulted only after the charset itself. Every replacement is printable
// ASCII of at most 3 bytes.
var translit = map[rune]string{
	'\u201C': `"`, '\u201D': `"`, '\u201E': `"`, '\u201F': `"`, '\u2033': `"`,
	'\u00AB': `"`, '\u00BB': `"`,
	'\u2018': "'", '\u2019': "'", '\u201A': "'", '\u201B': "'", '\u2032': "'",
	'\u2039': "<", '\u203A': ">",
	'\u2014': "-", '\u2013': "-", '\u2012': "-", '\u2015': "-", '\u2010': "-",
	'\u2011': "-", '\u2212': "-",
	'\u2026': "...",
	'\u20AC': "EUR",
	'\u2022': "*", '\u2023': "*", '\u25CF': "*",
	'\u0152': "OE", '\u0153': "oe",
	'\u00B4': "'", '\u02C6': "^", '\u02DC': "~",
}

// EncodeText encodes s in charset c with the same transliteration as
// Encoder.Text (for callers measuring widths: one byte is one column). An
// unknown charset is treated as plain ASCII.
func EncodeText(c Charset, s string) []byte {
	cd, ok := codecs[c]
	if !ok {
		cd = asciiCodec
	}
	return appendText(make([]byte, 0, len(s)), cd, s)
}

// appendText appends s encoded with c to dst. In order, per rune of the NFC
// form of s: '\n' (and U+2028/U+2029) becomes LF; other controls, format
// characters and lone combining marks are dropped; space separators become a
// space; what the charset holds is its byte; then the transliteration table;
// then the base letters of the canonical decomposition (accents stripped);
// then the compatibility decomposition if it is at most 3 bytes (™ → TM,
// full-width letters); then '?'. It never appends a byte below 0x20 other
// than LF, nor 0x7F, and never more than 3 bytes per rune of s.
func appendText(dst []byte, c *codec, s string) []byte {
	if mayNeedNFC(s) && !norm.NFC.IsNormalString(s) {
		s = norm.NFC.String(s)
	}
	for _, r := range s {
		switch {
		case r == '\n' || r == '\u2028' || r == '\u2029':
			dst = append(dst, '\n')
			continue
		case r >= 0x20 && r < 0x7F:
			if b, ok := c.lookup(r); ok {
				dst = append(dst, b)
				continue
			}
		case unicode.IsControl(r), unicode.In(r, unicode.Cf, unicode.Mn, unicode.Me):
			continue
		case unicode.Is(unicode.Zs, r):
			dst = append(dst, ' ')
			continue
		}
		if b, ok := c.lookup(r); ok {
			dst = append(dst, b)
			continue
		}
		if t, ok := translit[r]; ok {
			dst = append(dst, t...)
			continue
		}
		if out, ok := decompose(dst, c, norm.NFD, r, 3); ok {
			dst = out
			continue
		}
		if out, ok := decompose(dst, c, norm.NFKD, r, 3); ok {
			dst = out
			continue
		}
		dst = append(dst, '?')
	}
	return dst
}

// decompose appends the non-mark runes of r's decomposition in form f, each
// encoded in c, when all of them are encodable and they take at most limit
// bytes. A decomposition into marks only appends nothing and succeeds.
func decompose(dst []byte, c *codec, f norm.Form, r rune, limit int) ([]byte, bool) {
	var buf [utf8.UTFMax]byte
	src := buf[:utf8.EncodeRune(buf[:], r)]
	if f.QuickSpan(src) == len(src) {
		return dst, false // no decomposition
	}
	d := f.Bytes(src)
	n := len(dst)
	for _, dr := range string(d) {
		if unicode.In(dr, unicode.Mn, unicode.Me) {
			continue
		}
		if unicode.Is(unicode.Zs, dr) {
			dr = ' '
		}
		b, ok := c.lookup(dr)
		if !ok || len(dst)-n >= limit {
			return dst[:n], false
		}
		dst = append(dst, b)
	}
	return dst, true
}

// mayNeedNFC reports whether s has a rune at or above U+0300: below it every
// string is already NFC (no combining marks, no composition exclusions), which
// spares the normalizer for most receipt text. UTF-8 lead bytes of U+0300 and
// above are 0xCC and higher. (Invalid bytes need no normalizing: they
// become '?' either way.)
func mayNeedNFC(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0xCC {
			return true
		}
	}
	return false
}
