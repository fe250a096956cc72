package pix

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/png"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

// readQR decodes a PNG back (with readQRImage, below) after checking its size.
func readQR(t *testing.T, b []byte, size int) (string, image.Image) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() != size || r.Dy() != size {
		t.Fatalf("image is %v, want %dx%d", r, size, size)
	}
	text, err := readQRImage(img)
	if err != nil {
		t.Fatalf("cannot read the QR back: %v", err)
	}
	return text, img
}

func TestQRPNGRoundTrip(t *testing.T) {
	dyn, err := EncodeDynamic(Dynamic{Location: "https://pix.example.com/qr/v2/cob/9f3c2a1b7e6d4c5b8a9f0e1d2c3b4a59",
		MerchantName: "Quiosque Estação Sé", MerchantCity: "São Paulo", AmountCents: 123456})
	if err != nil {
		t.Fatal(err)
	}
	long := loadVectors(t)[1].Payload // 270 bytes, upper case and digits
	for _, payload := range []string{dyn, long, bcbStatic} {
		for _, size := range []int{QRMinSize, 256, 512} {
			b, err := QRPNG(payload, size)
			if err != nil {
				t.Fatalf("QRPNG(%d): %v", size, err)
			}
			got, img := readQR(t, b, size)
			if got != payload {
				t.Fatalf("size %d: read back %q, want %q", size, got, payload)
			}
			checkQuietZone(t, payload, img, size)
		}
	}
}

// checkQuietZone: modules are whole pixels and at least 4 white modules surround the symbol.
func checkQuietZone(t *testing.T, payload string, img image.Image, size int) {
	t.Helper()
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	n := len(q.Bitmap()) // symbol + 2*4 quiet modules
	scale := size / n
	minX, minY, maxX, maxY := size, size, -1, -1
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			if r, _, _, _ := img.At(x, y).RGBA(); r < 0x8000 {
				minX, minY, maxX, maxY = min(minX, x), min(minY, y), max(maxX, x), max(maxY, y)
			}
		}
	}
	symbol := (n - 8) * scale
	if maxX-minX+1 != symbol || maxY-minY+1 != symbol {
		t.Errorf("symbol spans %dx%d px, want %d (%d modules of %d px)", maxX-minX+1, maxY-minY+1, symbol, n-8, scale)
	}
	if quiet := 4 * scale; minX < quiet || minY < quiet || size-1-maxX < quiet || size-1-maxY < quiet {
		t.Errorf("margins %d,%d,%d,%d px, want >= %d", minX, minY, size-1-maxX, size-1-maxY, quiet)
	}
}

func TestQRPNGRefusals(t *testing.T) {
	for _, size := range []int{-256, 0, QRMinSize - 1, QRMaxSize + 1} {
		if _, err := QRPNG(bcbStatic, size); err == nil {
			t.Errorf("size %d accepted", size)
		}
		if _, err := QRDataURL(bcbStatic, size); err == nil {
			t.Errorf("QRDataURL size %d accepted", size)
		}
	}
	if _, err := QRPNG("", 256); err == nil {
		t.Error("empty payload accepted")
	}
	// More modules than pixels: 2000 bytes need a version-40-ish symbol (> 128 modules).
	if _, err := QRPNG(strings.Repeat("x", 2000), QRMinSize); err == nil || !strings.Contains(err.Error(), "modules") {
		t.Errorf("2000 bytes at %d px: %v", QRMinSize, err)
	}
	if b, err := QRPNG(bcbStatic, QRMaxSize); err != nil || len(b) == 0 {
		t.Errorf("max size: %v", err)
	}
}

func TestQRDataURL(t *testing.T) {
	u, err := QRDataURL(bcbStatic, 256)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "data:image/png;base64,"
	if !strings.HasPrefix(u, prefix) {
		t.Fatalf("prefix: %.40q", u)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(u, prefix))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := QRPNG(bcbStatic, 256)
	if !bytes.Equal(b, want) {
		t.Fatal("data URL is not the PNG")
	}
	if got, _ := readQR(t, b, 256); got != bcbStatic {
		t.Fatalf("read back %q", got)
	}
}

// The go.mod's test-only reader, github.com/makiuchi-d/gozxing, cannot be built in this module
// yet: it imports golang.org/x/text, which go.sum lacks. Until then the PNG is read back by the
// small reader below, written from ISO/IEC 18004 independently of go-qrcode: it samples the
// module grid of an upright, evenly scaled symbol (what QRPNG draws), reads the format
// information, removes the mask, reads the codewords in the zig-zag order, de-interleaves the
// blocks, checks every block's Reed-Solomon codewords and decodes the numeric, alphanumeric and
// byte segments.

func readQRImage(img image.Image) (string, error) {
	b := img.Bounds()
	dark := func(x, y int) bool { r, _, _, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA(); return r < 0x8000 }
	minX, minY, maxX := b.Dx(), b.Dy(), -1
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			if dark(x, y) {
				minX, minY, maxX = min(minX, x), min(minY, y), max(maxX, x)
			}
		}
	}
	if maxX < 0 {
		return "", fmt.Errorf("blank image")
	}
	run := 0
	for dark(minX+run, minY) {
		run++
	}
	if run%7 != 0 {
		return "", fmt.Errorf("finder pattern row of %d px is not 7 modules", run)
	}
	scale := run / 7
	n := (maxX - minX + 1) / scale
	if (maxX-minX+1)%scale != 0 || n < 21 || (n-17)%4 != 0 {
		return "", fmt.Errorf("symbol of %d px at %d px/module is not a QR size", maxX-minX+1, scale)
	}
	ver := (n - 17) / 4
	m := make([][]bool, n) // m[row][col]
	for r := range m {
		m[r] = make([]bool, n)
		for c := range m[r] {
			m[r][c] = dark(minX+c*scale+scale/2, minY+r*scale+scale/2)
		}
	}

	// Format information around the top-left finder: 5 data bits, BCH(15,5), XOR 0x5412.
	var fmtBits int
	for _, p := range [][2]int{{8, 0}, {8, 1}, {8, 2}, {8, 3}, {8, 4}, {8, 5}, {8, 7}, {8, 8}, {7, 8}, {5, 8}, {4, 8}, {3, 8}, {2, 8}, {1, 8}, {0, 8}} {
		fmtBits <<= 1
		if m[p[0]][p[1]] {
			fmtBits |= 1
		}
	}
	fmtBits ^= 0x5412
	if bchFormat(fmtBits>>10) != fmtBits {
		return "", fmt.Errorf("format information %015b fails its BCH check", fmtBits)
	}
	if level := fmtBits >> 13; level != 0 { // 00 is M
		return "", fmt.Errorf("error correction level bits %02b, not M", level)
	}
	mask := fmtBits >> 10 & 7

	// Function patterns: finders, separators and format areas, timing, alignment, version.
	fn := make([][]bool, n)
	for r := range fn {
		fn[r] = make([]bool, n)
	}
	region := func(top, left, h, w int) {
		for r := top; r < top+h; r++ {
			for c := left; c < left+w; c++ {
				fn[r][c] = true
			}
		}
	}
	region(0, 0, 9, 9)
	region(0, n-8, 9, 8)
	region(n-8, 0, 8, 9)
	region(6, 9, 1, n-17)
	region(9, 6, n-17, 1)
	if ver >= 2 {
		al := alignmentCenters(ver)
		for i, r := range al {
			for j, c := range al {
				if (i == 0 && j == 0) || (i == 0 && j == len(al)-1) || (i == len(al)-1 && j == 0) {
					continue
				}
				region(r-2, c-2, 5, 5)
			}
		}
	}
	if ver >= 7 {
		region(0, n-11, 6, 3)
		region(n-11, 0, 3, 6)
	}

	masked := func(r, c int) bool {
		switch mask {
		case 0:
			return (r+c)%2 == 0
		case 1:
			return r%2 == 0
		case 2:
			return c%3 == 0
		case 3:
			return (r+c)%3 == 0
		case 4:
			return (r/2+c/3)%2 == 0
		case 5:
			return r*c%2+r*c%3 == 0
		case 6:
			return (r*c%2+r*c%3)%2 == 0
		default:
			return ((r+c)%2+r*c%3)%2 == 0
		}
	}
	var cw []byte
	var cur byte
	bits := 0
	up := true
	for right := n - 1; right > 0; right -= 2 {
		if right == 6 {
			right--
		}
		for k := 0; k < n; k++ {
			r := k
			if up {
				r = n - 1 - k
			}
			for _, c := range []int{right, right - 1} {
				if fn[r][c] {
					continue
				}
				cur <<= 1
				if m[r][c] != masked(r, c) {
					cur |= 1
				}
				if bits++; bits == 8 {
					cw, cur, bits = append(cw, cur), 0, 0
				}
			}
		}
		up = !up
	}

	// Blocks (level M), de-interleaved and checked.
	eccLen := []int{10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28,
		28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28}[ver-1]
	nBlocks := []int{1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28,
		29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49}[ver-1]
	raw := rawCodewords(ver)
	if len(cw) != raw {
		return "", fmt.Errorf("read %d codewords, version %d has %d", len(cw), ver, raw)
	}
	nShort := nBlocks - raw%nBlocks
	shortData := raw/nBlocks - eccLen
	blocks := make([][]byte, nBlocks)
	k := 0
	for i := 0; i <= shortData; i++ {
		for j := range blocks {
			if i < shortData || j >= nShort {
				blocks[j] = append(blocks[j], cw[k])
				k++
			}
		}
	}
	var data []byte
	for _, blk := range blocks {
		data = append(data, blk...)
	}
	for i := 0; i < eccLen; i++ {
		for j := range blocks {
			blocks[j] = append(blocks[j], cw[k])
			k++
		}
	}
	for j, blk := range blocks {
		d := len(blk) - eccLen
		if want := rsRemainder(blk[:d], eccLen); !bytes.Equal(want, blk[d:]) {
			return "", fmt.Errorf("block %d: Reed-Solomon codewords do not match its data", j)
		}
	}

	// Segments.
	pos := 0
	read := func(w int) int {
		v := 0
		for ; w > 0; w-- {
			v = v<<1 | int(data[pos/8]>>(7-pos%8)&1)
			pos++
		}
		return v
	}
	cls := 0
	if ver >= 10 {
		cls = 1
	}
	if ver >= 27 {
		cls = 2
	}
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	var out []byte
	for len(data)*8-pos >= 4 {
		mode := read(4)
		switch mode {
		case 0:
			return string(out), nil
		case 1: // numeric
			cnt := read([]int{10, 12, 14}[cls])
			for ; cnt >= 3; cnt -= 3 {
				out = fmt.Appendf(out, "%03d", read(10))
			}
			if cnt == 2 {
				out = fmt.Appendf(out, "%02d", read(7))
			} else if cnt == 1 {
				out = fmt.Appendf(out, "%d", read(4))
			}
		case 2: // alphanumeric
			cnt := read([]int{9, 11, 13}[cls])
			for ; cnt >= 2; cnt -= 2 {
				v := read(11)
				out = append(out, alnum[v/45], alnum[v%45])
			}
			if cnt == 1 {
				out = append(out, alnum[read(6)])
			}
		case 4: // byte
			cnt := read([]int{8, 16, 16}[cls])
			for ; cnt > 0; cnt-- {
				out = append(out, byte(read(8)))
			}
		default:
			return "", fmt.Errorf("mode %04b not supported", mode)
		}
	}
	return string(out), nil
}

func bchFormat(data int) int {
	v := data << 10
	for i := 14; i >= 10; i-- {
		if v>>i&1 != 0 {
			v ^= 0x537 << (i - 10)
		}
	}
	return data<<10 | v
}

func alignmentCenters(ver int) []int {
	num := ver/7 + 2
	step := (ver*4 + num*2 + 1) / (num*2 - 2) * 2
	if ver == 32 {
		step = 26
	}
	out := make([]int, num)
	out[0] = 6
	for i, pos := num-1, ver*4+10; i >= 1; i, pos = i-1, pos-step {
		out[i] = pos
	}
	return out
}

func rawCodewords(ver int) int {
	r := (16*ver+128)*ver + 64
	if ver >= 2 {
		num := ver/7 + 2
		r -= (25*num-10)*num - 55
		if ver >= 7 {
			r -= 36
		}
	}
	return r / 8
}

// rsRemainder is the Reed-Solomon ECC of data over GF(256)/0x11D with generator roots 2^0..2^(n-1).
func rsRemainder(data []byte, n int) []byte {
	mul := func(x, y byte) byte {
		var z byte
		for i := 7; i >= 0; i-- {
			z = z<<1 ^ byte(int(z>>7)*0x1D)
			z ^= byte(int(y>>i&1) * int(x))
		}
		return z
	}
	gen := make([]byte, n)
	gen[n-1] = 1
	root := byte(1)
	for range n {
		for j := range gen {
			gen[j] = mul(gen[j], root)
			if j+1 < n {
				gen[j] ^= gen[j+1]
			}
		}
		root = mul(root, 2)
	}
	rem := make([]byte, n)
	for _, b := range data {
		f := b ^ rem[0]
		copy(rem, rem[1:])
		rem[n-1] = 0
		for i := range rem {
			rem[i] ^= mul(gen[i], f)
		}
	}
	return rem
}

// TestQRPNGModules: the PNG is go-qrcode's module grid, each module scale×scale pixels.
func TestQRPNGModules(t *testing.T) {
	for _, size := range []int{QRMinSize, 256, 300, 512} {
		b, err := QRPNG(bcbStatic, size)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		q, _ := qrcode.New(bcbStatic, qrcode.Medium)
		bm := q.Bitmap()
		n := len(bm)
		scale := size / n
		off := (size - n*scale) / 2
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				r, _, _, _ := img.At(x, y).RGBA()
				want := false
				if mx, my := (x-off)/scale, (y-off)/scale; x >= off && y >= off && mx < n && my < n {
					want = bm[my][mx]
				}
				if (r < 0x8000) != want {
					t.Fatalf("size %d: pixel (%d,%d) dark=%v, want %v", size, x, y, r < 0x8000, want)
				}
			}
		}
	}
}

func TestReadQRImageSelfCheck(t *testing.T) {
	// The reader against go-qrcode across versions and modes (numeric, alphanumeric, byte).
	for _, p := range []string{"1", "01234567890123456789", "HTTPS://PIX.EXAMPLE/QR/1", "pix é ✓",
		strings.Repeat("0123456789ABCDEFGHIJ", 20), strings.Repeat("Pix-Copia-e-Cola ", 30), bcbStatic} {
		b, err := QRPNG(p, QRMaxSize/2)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := readQR(t, b, QRMaxSize/2); got != p {
			t.Fatalf("read %q, want %q", got, p)
		}
	}
}
