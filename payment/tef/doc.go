// Package tef speaks TEF Dial, the message format of Brazilian TEF managers (PayGo, SiTef's file
// interface, and others): the codec, the manager client over TCP or the file exchange, and
// pending-transaction recovery.
//
// # Codec
//
// A message is a list of text lines "NNN-NNN = value" ending in CRLF: a field id (3 digits,
// more if above 999), a dash, a 3-digit occurrence (seq) and the value, as is. The last line is
// always "999-999 = 0"; a message without it is incomplete. [Message] keeps its fields in
// order, unknown ones included; [New], [Message.Set] and [Message.Encode] build requests (and
// the simulator's responses); [Parse] reads them; [Check] matches a response to its request;
// [SplitMessages] cuts a TCP stream into messages.
//
// The text is CP1252 on the wire and UTF-8 in a [Message]. Parse is lenient where a real
// manager might wander and strict where leniency would hide a cut or garbled message:
//
//   - lines end in CRLF or a bare LF; the last line may lack its line end; blank lines (only
//     spaces or tabs) are skipped; trailing NUL and Ctrl-Z bytes (DOS end of file,
//     pre-allocated files) are ignored;
//   - around '=' at most one space each side is taken as the separator, either may be missing
//     ("003-000=1000"); everything after it is the value, untrimmed;
//   - the id has 3 to 9 digits (leading zeros allowed), the seq exactly 3;
//   - the last non-blank line must be 999-999 with the value 0 (spaces around it tolerated),
//     else [ErrNoTrailer]: a file still being written or a read that stopped early, worth
//     reading again. Checked before anything else, so a message cut mid-line is incomplete,
//     not malformed;
//   - any other line that is not a field, and a 999-999 line before the last, is
//     [ErrMalformed], naming the line number and its first 60 characters;
//   - a repeated id-seq keeps the last value, in the place of the first occurrence; an empty
//     value means the field is absent (exactly as [Message.Set] does);
//   - a leading UTF-8 byte order mark switches the decoding to UTF-8 (the rest must then be
//     valid UTF-8); otherwise bytes are CP1252, undefined ones becoming U+FFFD;
//   - control characters other than the line end are kept in values (Encode refuses them);
//   - input over [MaxMessageSize] is ErrMalformed.
//
// Encode writes canonical lines, drops empty values, writes "999-999 = 0" last whatever the
// message holds for it, and fails with [ErrEncode] on a control character (CR, LF, tab and
// the like), a rune CP1252 cannot hold, a duplicate id-seq, an id or seq out of range, or a
// message over MaxMessageSize. A message Parse accepted re-encodes to one that parses to the
// same fields unless one of its values holds such a character (or it outgrows
// MaxMessageSize by the canonical spacing).
package tef
