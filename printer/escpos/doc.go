// Package escpos encodes ESC/POS printer commands and decodes what the
// printer reports back. It is pure: no I/O, no goroutines, no clocks. An
// Encoder appends commands to a byte slice that the printer service writes to
// the device; DecodeDLEEOT, DecodeASB, DecodeGSr1 and the Splitter turn the
// bytes read back from the device into a typed Status.
//
// Command bytes follow Epson's ESC/POS reference. Printers differ in how
// they number character tables (Table carries the slot and the select
// command) and in which commands they lack (Image has a column mode for
// models without GS v 0; QRImage stands in for models without GS ( k).
//
// # Real-time commands inside data
//
// DLE EOT n (10 04 n), DLE ENQ n (10 05 n) and DLE DC4 fn (10 14 fn …) are
// real-time commands: the printer's receive routine acts on them the moment
// the bytes arrive, wherever they are in the stream, also inside the data of
// a counted command (Epson's reference gives ESC * data 10 04 01 as its
// example). The data is still printed as data, but the printer also answers
// a status byte nobody asked for, which the status reader would take for the
// answer to its own request. So this package never emits those sequences
// outside RequestStatus and Raw:
//
//   - Text never emits 0x10 (or any C0 control but LF).
//   - Image and QRImage clear the one dot that would start such a sequence in
//     raster or column data (invisible in print; QR error correction absorbs a
//     single module).
//   - Barcode CODE128 falls back from code set C (two digits per byte, binary
//     0..99) to code set B when the pairs would spell such a sequence.
//   - QR refuses data that contains one (use QRImage for such data).
//
// The converse is the printer service's duty: it must never send DLE EOT (or
// any real-time command) in the middle of a counted block — between the bytes
// of one GS v 0, ESC *, GS ( k or GS k command — because the printer would
// also take those bytes as the block's data and the block would be corrupted.
// Send status requests only between the byte slices of whole commands.
package escpos
