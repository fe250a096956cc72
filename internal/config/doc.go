// Package config is the strict YAML loader that every section of totemd's
// configuration goes through.
//
// Field technicians edit these files on kiosks, so every problem is reported
// as an [*Error] that says where it is (file:line:column), which setting it is
// about (a dotted path such as "catalog.services[1].price_cents") and what to
// write instead. [Decode] reports all unknown-key and type problems of a file
// in one pass, as [Errors] sorted by line.
//
// # Decoding
//
// [Decode] reads exactly one YAML document into a struct the caller has
// pre-filled with defaults. Struct fields are matched by their `yaml:"name"`
// tag, or by their lower-cased Go name when untagged, as go.yaml.in/yaml/v3
// does. Fields tagged `yaml:"-"` and unexported fields are not keys. The tag
// options ",omitempty" and ",flow" are accepted and ignored; ",inline" on a
// struct (or pointer to struct) field merges that struct's keys into the
// enclosing section, and on a map[string]T field collects every key the
// section does not otherwise know (so that section reports no unknown keys).
//
// The rules a file is held to:
//
//   - A key absent from the file leaves the field's default untouched. So
//     does a key whose value is null: `key:` with nothing after it, `~` or
//     `null`. This lets a technician comment out the contents of a section
//     without changing its meaning. An explicitly quoted empty string ("")
//     does set a string field to "".
//   - A present section (struct) is merged key by key into the defaults; a
//     nil pointer to a struct is allocated when its key is present with a
//     non-null value. Lists and maps are replaced as a whole: their items and
//     entries start from the zero value, not from any default.
//   - Scalars are read from the text as written; quoting never changes the
//     meaning ("8080" and 8080 both fill an int). Whole numbers may use
//     0x, 0o and 0b prefixes and _ separators; a leading 0 does not mean
//     octal. Booleans are true/false, yes/no or on/off, in any letter case.
//     time.Duration fields take Go duration strings only ("90s", "5m",
//     "1h30m", or "0"): a bare number is rejected because its unit would be a
//     guess.
//   - Types implementing yaml.Unmarshaler decode themselves; types implementing
//     encoding.TextUnmarshaler (net/netip.AddrPort, for instance) decode
//     themselves from a single value. interface{} fields get what
//     yaml.v3 would give them, and yaml.Node fields the raw node.
//   - Anchors, aliases and merge keys ("<<: *defaults") are resolved. A key
//     reached through an alias is positioned where the anchored text stands.
//     An anchor that contains an alias to itself, or aliases that expand the
//     file far beyond its written size, are errors.
//   - An unknown key, a duplicate key, a wrong-typed value, more than one
//     document, or an empty file is an error.
//
// # Validation
//
// Sections validate themselves after decoding and report problems as
// [FieldError] values (built with [Errorf]) whose paths are relative to the
// section. [Within] prefixes them with the section's path, and
// [Positions.Annotate] turns them into [*Error] / [Errors] that carry the file
// name and the line of the offending key:
//
//	pos, err := config.Decode("totemd.yaml", data, &cfg)
//	if err != nil {
//		return err
//	}
//	err = errors.Join(
//		config.Within("api", cfg.API.Validate()),
//		config.Within("catalog", cfg.Catalog.Validate()),
//	)
//	return pos.Annotate("totemd.yaml", err)
package config
