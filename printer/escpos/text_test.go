package escpos

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

const portuguese = "Ação São João ÇÃÕ á é í ó ú â ê ô à ü ç"

var xcharmaps = map[Charset]*charmap.Charmap{
	CP437:   charmap.CodePage437,
	CP850:   charmap.CodePage850,
	CP858:   charmap.CodePage858,
	CP860:   charmap.CodePage860,
	WPC1252: charmap.Windows1252,
}

func decode(t *testing.T, c Charset, b []byte) string {
	t.Helper()
	s, err := xcharmaps[c].NewDecoder().Bytes(b)
	if err != nil {
		t.Fatalf("decode %s: %v", c, err)
	}
	return string(s)
}

func TestPortugueseRoundTrip(t *testing.T) {
	for _, c := range []Charset{CP850, CP858, CP860, WPC1252} {
		t.Run(string(c), func(t *testing.T) {
			b := EncodeText(c, portuguese)
			if got := decode(t, c, b); got != portuguese {
				t.Errorf("round trip = %q", got)
			}
			if utf8.RuneCountInString(portuguese) != len(b) {
				t.Errorf("%d bytes for %d runes", len(b), utf8.RuneCountInString(portuguese))
			}
		})
	}
	// CP437 lacks the tilde capitals and ã/õ: accents stripped, the rest kept.
	if got, want := decode(t, CP437, EncodeText(CP437, portuguese)), "Açao Sao Joao ÇAO á é í ó ú â ê ô à ü ç"; got != want {
		t.Errorf("CP437 = %q, want %q", got, want)
	}
}

func TestTextTransliteration(t *testing.T) {
	tests := []struct {
		c    Charset
		in   string
		want string // decoded with the charset
	}{
		{CP858, "€ 10", "€ 10"},
		{WPC1252, "€ 10", "€ 10"},
		{CP850, "€ 10", "EUR 10"},
		{CP860, "€ 10", "EUR 10"},
		{CP437, "€", "EUR"},
		{CP850, "“Olá” — ‘x’ – fim…", `"Olá" - 'x' - fim...`},
		{CP860, "“Olá” — ‘x’ – fim…", `"Olá" - 'x' - fim...`},
		{CP858, "a•b", "a*b"},
		{WPC1252, "“Olá” — fim…", "“Olá” — fim…"}, // WPC1252 holds them
		{CP850, "a\u00a0b\u2009c", "a b c"},
		{WPC1252, "a\u00a0b", "a b"},
		{CP850, "pix 😀!", "pix ?!"},
		{CP860, "❤️", "?"}, // the variation selector is dropped
		{CP850, "🇧🇷", "??"},
		{CP850, "Ac\u0327a\u0303o", "Ação"}, // NFD input
		{CP437, "ã", "a"},
		{CP860, "ø", "?"},
		{CP850, "™ Ｆ", "TM F"},
		{CP860, "Œuvre", "OEuvre"},
		{CP850, "a\x10b\x1bc\td\re\x00f\u0085g\x7fh\u200bi\u00adj", "abcdefghij"},
		{CP850, "a\nb", "a\nb"},
		{CP850, "\xff\xfe", "??"},
		{CP850, "日本", "??"},
		{CP850, "\u0301x", "x"}, // a lone combining mark
	}
	for _, tt := range tests {
		got := decode(t, tt.c, EncodeText(tt.c, tt.in))
		if got != tt.want {
			t.Errorf("%s %q = %q, want %q", tt.c, tt.in, got, tt.want)
		}
	}
}

func TestTextEncoderMatchesEncodeText(t *testing.T) {
	for c := range xcharmaps {
		e := NewEncoder(Table{Charset: c})
		e.Text(portuguese + " € — …")
		if !bytes.Equal(e.Bytes(), EncodeText(c, portuguese+" € — …")) {
			t.Errorf("%s: Encoder.Text differs from EncodeText", c)
		}
	}
}

// checkText verifies the invariants of encoded text.
func checkText(t testing.TB, c Charset, s string, b []byte) {
	t.Helper()
	for i, x := range b {
		if (x < 0x20 && x != '\n') || x == 0x7F {
			t.Fatalf("%s %q: byte 0x%02X at %d", c, s, x, i)
		}
	}
	if n := utf8.RuneCountInString(s); len(b) > 3*n {
		t.Fatalf("%s %q: %d bytes for %d runes", c, s, len(b), n)
	}
}

// Property: over many random strings no byte 0x10 nor any C0 but LF comes
// out of Text, in any charset.
func TestTextNeverEmitsControls(t *testing.T) {
	pool := []rune{'\n', '\r', '\t', 0, 0x10, 0x04, 0x1B, 0x1D, 0x7F, 0x85, 0x9F,
		'a', 'Z', '~', ' ', 'ã', 'Ç', '€', '—', '…', '“', '•', 0xA0, 0x0301, 0x0327,
		0x200B, 0x200D, 0xFE0F, 0xFEFF, 0x2028, '►', '☺', '♪', '§', '¶', '↑', '←',
		'😀', 0x1F1E7, 'ｆ', '™', '㏂', 'ﬁ', 0xFDFA, 'ǅ', 'Ω', '∞', utf8.RuneError}
	rng := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	for range 20000 {
		sb.Reset()
		for range rng.IntN(20) {
			if rng.IntN(4) == 0 {
				sb.WriteRune(rune(rng.IntN(0x30000)))
			} else {
				sb.WriteRune(pool[rng.IntN(len(pool))])
			}
		}
		s := sb.String()
		for c := range xcharmaps {
			checkText(t, c, s, EncodeText(c, s))
		}
	}
	// Every rune of the BMP and the first supplementary plane, alone.
	for r := rune(0); r < 0x20000; r++ {
		s := string(r)
		for c := range xcharmaps {
			checkText(t, c, s, EncodeText(c, s))
		}
	}
}

// mayNeedNFC's premise: any string of runes below U+0300 is already NFC.
func TestBelowU0300IsNFC(t *testing.T) {
	for r1 := rune(0); r1 < 0x300; r1++ {
		for r2 := rune(0); r2 < 0x300; r2++ {
			s := string([]rune{r1, r2})
			if mayNeedNFC(s) || !norm.NFC.IsNormalString(s) {
				t.Fatalf("%U %U: mayNeedNFC %v, NFC %v", r1, r2, mayNeedNFC(s), norm.NFC.IsNormalString(s))
			}
		}
	}
	if !mayNeedNFC("e\u0301") {
		t.Fatal("U+0301 not flagged")
	}
}
