package virtual

import (
	"image"
	"sync"

	"golang.org/x/image/font/basicfont"
	"golang.org/x/text/unicode/norm"
)

// Glyphs are drawn from a 7x15 "virtual" cell, scaled (nearest neighbour) to
// the character cell: 12x24 for font A, 9x17 for font B, times the size
// multipliers. ASCII comes from basicfont's 7x13 face, placed at rows 2..14
// so that capitals (rows 4..12) have room for accents; accented letters are
// composed from their NFD decomposition (base letter + a mark drawn here);
// a few other Latin-1/WPC1252 symbols are drawn here; box-drawing and block
// characters (CP437/CP850) are drawn procedurally so that they join.

const (
	gw = 7
	gh = 15
)

type glyphBits [gh]uint8 // bit 6 is column 0

// glyphTable holds the glyphs of the runes below 0x2600 (every table's
// characters), built once; other runes go through glyphCache.
var (
	glyphTable     []*glyphBits
	glyphTableOnce sync.Once
	glyphCache     sync.Map // rune -> *glyphBits
)

const glyphTableSize = 0x2600

func glyphFor(r rune) *glyphBits {
	glyphTableOnce.Do(func() {
		t := make([]*glyphBits, glyphTableSize)
		for c := rune(0); c < glyphTableSize; c++ {
			if c >= 0x20 && c < 0x7F || c >= 0xA0 && c < 0x180 || c >= 0x2000 && c < 0x2600 {
				t[c] = makeGlyph(c)
			}
		}
		for _, cs := range charsets {
			for b := 0x80; b < 0x100; b++ {
				if c := cs.DecodeByte(byte(b)); c < glyphTableSize && t[c] == nil {
					t[c] = makeGlyph(c)
				}
			}
		}
		glyphTable = t
	})
	if r >= 0 && r < glyphTableSize {
		if g := glyphTable[r]; g != nil {
			return g
		}
	}
	if g, ok := glyphCache.Load(r); ok {
		return g.(*glyphBits)
	}
	g := makeGlyph(r)
	glyphCache.Store(r, g)
	return g
}

var basicMask = basicfont.Face7x13.Mask.(*image.Alpha)

// basic returns basicfont's glyph for r (ASCII, or U+FFFD for index 95).
func basic(index int) *glyphBits {
	var g glyphBits
	for row := 0; row < 13; row++ {
		for col := 0; col < 6; col++ {
			if basicMask.AlphaAt(col, index*13+row).A != 0 {
				g[row+2] |= 0x40 >> col
			}
		}
	}
	return &g
}

// substitutes are drawn as a similar ASCII character.
var substitutes = map[rune]rune{
	'\u2018': '\'', '\u2019': '\'', '\u201A': ',', '\u2032': '\'', '\u201B': '\'',
	'\u201C': '"', '\u201D': '"', '\u201E': '"', '\u2033': '"',
	'\u2039': '<', '\u203A': '>', '\u02C6': '^', '\u02DC': '~', '\u2212': '-',
	'\u00A0': ' ', '\u00AD': '-', '\u2010': '-', '\u2011': '-', '\u2022': '\u00B7',
	'\u2219': '\u00B7', '\u0192': 'f', '\u00A6': '|',
}

// drawn are glyphs drawn here: rows of '#' from basicfont row top (0..12;
// capitals span rows 2..10, lowercase 5..10, descenders 11..12).
var drawn = map[rune]struct {
	top  int
	rows []string
}{
	'\u00B0': {1, []string{"..##..", ".#..#.", ".#..#.", "..##.."}},                                                   // °
	'\u00BA': {1, []string{"..##..", ".#..#.", ".#..#.", "..##..", "......", ".####."}},                               // º
	'\u00AA': {1, []string{".###..", "....#.", ".####.", ".#..#.", "..###.", "......", ".####."}},                     // ª
	'\u20AC': {2, []string{"..####", ".#....", ".#....", "####..", ".#....", "####..", ".#....", ".#....", "..####"}}, // €
	'\u00A3': {2, []string{"..###.", ".#...#", ".#....", ".#....", "####..", ".#....", ".#....", "##...#", "#.###."}}, // £
	'\u00A2': {3, []string{"..#...", ".####.", "#.#..#", "#.#...", "#.#...", "#.#..#", ".####.", "..#..."}},           // ¢
	'\u00A5': {2, []string{"#...#.", "#...#.", ".#.#..", "..#...", "#####.", "..#...", "#####.", "..#...", "..#..."}}, // ¥
	'\u00DF': {2, []string{".###..", "#...#.", "#...#.", "#..#..", "#.##..", "#...#.", "#....#", "#...#.", "#.##.."}}, // ß
	'\u00E6': {5, []string{".##.#.", "...#.#", ".#####", "#..#..", "#..#.#", ".##.#."}},                               // æ
	'\u00C6': {2, []string{"..####", ".#.#..", "#..#..", "#..###", "####..", "#..#..", "#..#..", "#..#..", "#..###"}}, // Æ
	'\u00F8': {5, []string{".####.", "#...##", "#..#.#", "#.#..#", "##...#", ".####."}},                               // ø
	'\u00D8': {2, []string{".####.", "#...##", "#...##", "#..#.#", "#..#.#", "#.#..#", "#.#..#", "##...#", ".####."}}, // Ø
	'\u00B5': {5, []string{"#....#", "#....#", "#....#", "#....#", "##..##", "#.##.#", "#.....", "#....."}},           // µ
	'\u00BF': {2, []string{"..#...", "......", "..#...", "..#...", ".#....", "#.....", "#....#", "#....#", ".####."}}, // ¿
	'\u00A1': {2, []string{"..#...", "......", "..#...", "..#...", "..#...", "..#...", "..#...", "..#...", "..#..."}}, // ¡
	'\u00AB': {4, []string{"..#..#", ".#..#.", "#..#..", ".#..#.", "..#..#"}},                                         // «
	'\u00BB': {4, []string{"#..#..", ".#..#.", "..#..#", ".#..#.", "#..#.."}},                                         // »
	'\u00B1': {3, []string{"..#...", "..#...", "#####.", "..#...", "..#...", "......", "#####."}},                     // ±
	'\u00A7': {2, []string{".####.", "#.....", ".###..", "#...#.", "#...#.", ".###..", "....#.", "....#.", "####.."}}, // §
	'\u00B7': {6, []string{"..##..", "..##.."}},                                                                       // ·
	'\u00B9': {1, []string{".#....", "##....", ".#....", ".#....", "###..."}},                                         // ¹
	'\u00B2': {1, []string{".##...", "#..#..", "..#...", ".#....", "####.."}},                                         // ²
	'\u00B3': {1, []string{"###...", "...#..", ".##...", "...#..", "###..."}},                                         // ³
	'\u00D7': {5, []string{"#...#.", ".#.#..", "..#...", ".#.#..", "#...#."}},                                         // ×
	'\u00F7': {4, []string{"..#...", "......", "#####.", "......", "..#..."}},                                         // ÷
	'\u00AC': {6, []string{"######", ".....#", ".....#"}},                                                             // ¬
	'\u00A9': {2, []string{".####.", "#....#", "#.##.#", "#.#..#", "#.#..#", "#.##.#", "#....#", ".####."}},           // ©
	'\u00AE': {2, []string{".####.", "#....#", "#.##.#", "#.#.##", "#.##.#", "#.#.##", "#....#", ".####."}},           // ®
	'\u00AF': {0, []string{"######"}},                                                                                 // ¯
	'\u2013': {7, []string{".####."}},                                                                                 // –
	'\u2014': {7, []string{"######"}},                                                                                 // —
	'\u2026': {10, []string{"#.#.#."}},                                                                                // …
	'\u00B4': {2, []string{"...#..", "..#..."}},                                                                       // ´
	'\u00A8': {3, []string{".#..#."}},                                                                                 // ¨
	'\u00B8': {11, []string{"...#..", "..##.."}},                                                                      // ¸
	'\u00A4': {3, []string{"#....#", ".####.", ".#..#.", ".#..#.", ".####.", "#....#"}},                               // ¤
	'\u00BC': {1, []string{"#.....", "#...#.", "#..#..", "..#...", ".#.#..", "#.##..", "..###.", "...#.."}},           // ¼
	'\u00BD': {1, []string{"#.....", "#...#.", "#..#..", "..#...", ".#.##.", "#...#.", "...#..", "..###."}},           // ½
	'\u00BE': {1, []string{"##....", ".#..#.", "##.#..", "..#...", ".#.#..", "#.##..", "..###.", "...#.."}},           // ¾
	'\u0131': {5, []string{"..##..", "...#..", "...#..", "...#..", "...#..", ".#####"}},                               // ı
	'\u2302': {4, []string{"..#...", ".#.#..", "#...#.", "#...#.", "#...#.", "#####."}},                               // ⌂
	'\u25A0': {4, []string{"#####.", "#####.", "#####.", "#####.", "#####."}},                                         // ■
}

// marks are combining accents: two rows, placed above capitals (rows 1..2 of
// the virtual cell), above lowercase (rows 4..5), or below (rows 13..14).
var marks = map[rune][2]string{
	'\u0300': {"..#...", "...#.."}, // grave
	'\u0301': {"...#..", "..#..."}, // acute
	'\u0302': {"..##..", ".#..#."}, // circumflex
	'\u0303': {".##..#", "#..##."}, // tilde
	'\u0304': {"......", ".####."}, // macron
	'\u0307': {"......", "..#..."}, // dot above
	'\u0308': {"......", ".#..#."}, // diaeresis
	'\u030A': {"..##..", "..##.."}, // ring
	'\u030B': {"..#.#.", ".#.#.."}, // double acute
	'\u030C': {".#..#.", "..##.."}, // caron
	'\u0306': {".#..#.", "..##.."}, // breve (drawn as caron)
	'\u0327': {"...#..", "..##.."}, // cedilla (below)
	'\u0328': {"..#...", "...##."}, // ogonek (below)
}

func setRows(g *glyphBits, top int, rows []string) {
	for i, s := range rows {
		if top+i < 0 || top+i >= gh {
			continue
		}
		for c := 0; c < len(s) && c < gw; c++ {
			if s[c] == '#' {
				g[top+i] |= 0x40 >> c
			}
		}
	}
}

func makeGlyph(r rune) *glyphBits {
	if s, ok := substitutes[r]; ok && s != r {
		return makeGlyph(s)
	}
	if r >= 0x20 && r < 0x7F {
		return basic(int(r - 0x20))
	}
	if d, ok := drawn[r]; ok {
		var g glyphBits
		setRows(&g, d.top+2, d.rows)
		return &g
	}
	if dec := []rune(norm.NFD.String(string(r))); len(dec) > 1 && dec[0] < 0x7F && dec[0] > 0x20 {
		base := dec[0]
		g := *basic(int(base - 0x20))
		if base == 'i' || base == 'j' {
			for y := 0; y < 7; y++ { // dotless
				g[y] = 0
			}
		}
		upper := base >= 'A' && base <= 'Z' || base == 'b' || base == 'd' || base == 'h' || base == 'k' || base == 'l' || base == 't'
		for _, m := range dec[1:] {
			rows, ok := marks[m]
			if !ok {
				continue
			}
			switch {
			case m == '\u0327' || m == '\u0328':
				setRows(&g, 13, rows[:])
			case upper:
				setRows(&g, 1, rows[:])
			default:
				setRows(&g, 4, rows[:])
			}
		}
		return &g
	}
	return basic(95) // U+FFFD
}

// drawGlyph draws r in style st with its cell's top-left at (x, y).
func drawGlyph(p *paper, x, y int, r rune, st Style) {
	bw, bh := fontSize(st.Font)
	cw, ch := bw*max(st.Width, 1), bh*max(st.Height, 1)
	if y >= MaxHeight || y+ch <= 0 {
		return
	}
	fg := byte(ink)
	if st.Inverse {
		p.fill(x, y, x+cw, y+ch, ink)
		fg = 0
	}
	if !drawBox(p, x, y, cw, ch, r, fg) {
		g := glyphFor(r)
		for dy := 0; dy < ch; dy++ {
			bits := g[dy*gh/ch]
			if bits == 0 || y+dy < 0 || y+dy >= MaxHeight {
				continue
			}
			row := p.row(y + dy)
			for dx := 0; dx < cw; dx++ {
				if bits&(0x40>>(dx*gw/cw)) == 0 {
					continue
				}
				if xx := x + dx; xx >= 0 && xx < p.w {
					row[xx] = fg
				}
				if xx := x + dx + 1; st.Bold && dx+1 < cw && xx >= 0 && xx < p.w {
					row[xx] = fg
				}
			}
		}
	}
	if st.Underline > 0 {
		p.fill(x, y+ch-st.Underline, x+cw, y+ch, fg)
	}
}

// boxArms: for each box-drawing character of CP437/CP850, its arms up,
// down, left, right: 0 none, 1 single, 2 double.
var boxArms = map[rune][4]uint8{
	'─': {0, 0, 1, 1}, '│': {1, 1, 0, 0}, '┌': {0, 1, 0, 1}, '┐': {0, 1, 1, 0}, '└': {1, 0, 0, 1}, '┘': {1, 0, 1, 0},
	'├': {1, 1, 0, 1}, '┤': {1, 1, 1, 0}, '┬': {0, 1, 1, 1}, '┴': {1, 0, 1, 1}, '┼': {1, 1, 1, 1},
	'═': {0, 0, 2, 2}, '║': {2, 2, 0, 0}, '╔': {0, 2, 0, 2}, '╗': {0, 2, 2, 0}, '╚': {2, 0, 0, 2}, '╝': {2, 0, 2, 0},
	'╠': {2, 2, 0, 2}, '╣': {2, 2, 2, 0}, '╦': {0, 2, 2, 2}, '╩': {2, 0, 2, 2}, '╬': {2, 2, 2, 2},
	'╒': {0, 1, 0, 2}, '╓': {0, 2, 0, 1}, '╕': {0, 1, 2, 0}, '╖': {0, 2, 1, 0}, '╘': {1, 0, 0, 2}, '╙': {2, 0, 0, 1},
	'╛': {1, 0, 2, 0}, '╜': {2, 0, 1, 0}, '╞': {1, 1, 0, 2}, '╟': {2, 2, 0, 1}, '╡': {1, 1, 2, 0}, '╢': {2, 2, 1, 0},
	'╤': {0, 1, 2, 2}, '╥': {0, 2, 1, 1}, '╧': {1, 0, 2, 2}, '╨': {2, 0, 1, 1}, '╪': {1, 1, 2, 2}, '╫': {2, 2, 1, 1},
}

// drawBox draws box-drawing, block and shade characters over the whole cell
// so that they join; false when r is not one.
func drawBox(p *paper, x, y, cw, ch int, r rune, fg byte) bool {
	switch r {
	case '█':
		p.fill(x, y, x+cw, y+ch, fg)
		return true
	case '▀':
		p.fill(x, y, x+cw, y+ch/2, fg)
		return true
	case '▄':
		p.fill(x, y+ch/2, x+cw, y+ch, fg)
		return true
	case '▌':
		p.fill(x, y, x+cw/2, y+ch, fg)
		return true
	case '▐':
		p.fill(x+cw/2, y, x+cw, y+ch, fg)
		return true
	case '░', '▒', '▓':
		for dy := 0; dy < ch; dy++ {
			for dx := 0; dx < cw; dx++ {
				var on bool
				switch r {
				case '░':
					on = dx%2 == 0 && dy%2 == 0
				case '▒':
					on = (dx+dy)%2 == 0
				default:
					on = dx%2 == 0 || dy%2 == 0
				}
				if on {
					p.set(x+dx, y+dy, fg)
				}
			}
		}
		return true
	}
	arms, ok := boxArms[r]
	if !ok {
		return false
	}
	t := max(1, (cw+4)/8)
	cx, cy := x+cw/2, y+ch/2
	// Lines of one arm: single centred, double two apart.
	vert := func(kind uint8, y0, y1 int) {
		switch kind {
		case 1:
			p.fill(cx-t/2, y0, cx-t/2+t, y1, fg)
		case 2:
			p.fill(cx-t-t/2-1, y0, cx-t/2-1, y1, fg)
			p.fill(cx+t/2+1, y0, cx+t/2+1+t, y1, fg)
		}
	}
	horiz := func(kind uint8, x0, x1 int) {
		switch kind {
		case 1:
			p.fill(x0, cy-t/2, x1, cy-t/2+t, fg)
		case 2:
			p.fill(x0, cy-t-t/2-1, x1, cy-t/2-1, fg)
			p.fill(x0, cy+t/2+1, x1, cy+t/2+1+t, fg)
		}
	}
	// Arms reach across the centre as far as the lines they meet, so that
	// corners and junctions close without overshooting.
	reach := func(a, b uint8) (lo, hi int) {
		switch max(a, b) {
		case 1:
			return t / 2, t - t/2
		case 2:
			return t + t/2 + 1, t/2 + 1 + t
		}
		return 0, 0
	}
	vlo, vhi := reach(arms[2], arms[3]) // extent of the horizontal lines around cy
	hlo, hhi := reach(arms[0], arms[1]) // extent of the vertical lines around cx
	vert(arms[0], y, cy+vhi)
	vert(arms[1], cy-vlo, y+ch)
	horiz(arms[2], x, cx+hhi)
	horiz(arms[3], cx-hlo, x+cw)
	return true
}
