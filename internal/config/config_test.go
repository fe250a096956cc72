package config

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The test configuration: a cut-down totemd.yaml with every supported shape.

type testConfig struct {
	Kiosk    kioskSection       `yaml:"kiosk"`
	API      apiSection         `yaml:"api"`
	Payment  paymentSection     `yaml:"payment"`
	Catalog  catalogSection     `yaml:"catalog"`
	Printers map[string]printer `yaml:"printers"`
	Labels   map[string]string  `yaml:"labels"`
	TLS      *tlsSection        `yaml:"tls"`
	LogLevel logLevel           `yaml:"log_level"`
	Extra    any                `yaml:"extra"`
	Internal string             `yaml:"-"`
	secret   string             //nolint:unused // unexported: not a key
}

type kioskSection struct {
	ID      string  `yaml:"id"`
	Name    string  `yaml:"name"`
	Retries uint8   `yaml:"retries"`
	Offset  int8    `yaml:"offset"`
	Debug   bool    `yaml:"debug"`
	Ratio   float64 `yaml:"ratio"`
	Slots   [2]int  `yaml:"slots"`
	Cashbox *int    `yaml:"cashbox,omitempty"`
}

type apiSection struct {
	Listen  netip.AddrPort `yaml:"listen"`
	Timeout time.Duration  `yaml:"timeout"`
	Origins []string       `yaml:"origins"`
}

type common struct {
	Enabled bool `yaml:"enabled"`
}

type paymentSection struct {
	common         `yaml:",inline"`
	SessionTimeout time.Duration `yaml:"session_timeout"`
	Currency       string        `yaml:"currency"`
}

type catalogSection struct {
	Services []service `yaml:"services"`
}

type service struct {
	SKU        string `yaml:"sku"`
	Name       string `yaml:"name"`
	PriceCents int64  `yaml:"price_cents"`
}

type printer struct {
	Device string `yaml:"device"`
	Baud   uint32 `yaml:"baud"`
}

type tlsSection struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

type logLevel string

func (l *logLevel) UnmarshalYAML(n *yaml.Node) error {
	switch n.Value {
	case "debug", "info", "warn", "error":
		*l = logLevel(n.Value)
		return nil
	}
	return fmt.Errorf("unknown log level %q; use debug, info, warn or error", n.Value)
}

func defaults() testConfig {
	return testConfig{
		Kiosk:    kioskSection{Name: "totem", Retries: 3, Ratio: 0.5},
		API:      apiSection{Listen: netip.MustParseAddrPort("127.0.0.1:8080"), Timeout: 30 * time.Second, Origins: []string{"http://localhost"}},
		Payment:  paymentSection{common: common{Enabled: true}, SessionTimeout: 2 * time.Minute, Currency: "BRL"},
		Labels:   map[string]string{"default": "yes"},
		LogLevel: "info",
		Internal: "kept",
	}
}

// Validate is what a section's validation looks like in totemd.
func (c catalogSection) Validate() error {
	var errs []error
	for i, s := range c.Services {
		var e []error
		if s.SKU == "" {
			e = append(e, Errorf("sku", "is required; give every service a unique SKU"))
		}
		if s.PriceCents <= 0 {
			e = append(e, Errorf("price_cents", "must be more than 0, got %d", s.PriceCents))
		}
		errs = append(errs, Within(fmt.Sprintf("services[%d]", i), errors.Join(e...)))
	}
	return errors.Join(errs...)
}

const goodYAML = `# totemd.yaml
kiosk:
  id: k-042
  retries: 5
  offset: -7
  debug: yes
  ratio: 1.25
  slots: [1, 2]
  cashbox: 0x10
api:
  listen: 0.0.0.0:9000
  timeout: 1h30m
payment:
  enabled: false
  session_timeout: 90s
catalog:
  services:
    - sku: WASH
      name: Car wash
      price_cents: 1_500
    - sku: DRY
      price_cents: 0
printers:
  kitchen:
    device: /dev/ttyUSB0
    baud: 9600
labels:
  site: "0012"
tls:
  cert: /etc/totemd/cert.pem
log_level: debug
extra: {a: [1, 2]}
`

func TestDecodeValues(t *testing.T) {
	cfg := defaults()
	pos, err := Decode("totemd.yaml", []byte(goodYAML), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	sixteen := 16
	want := defaults()
	want.Kiosk = kioskSection{ID: "k-042", Name: "totem", Retries: 5, Offset: -7, Debug: true, Ratio: 1.25, Slots: [2]int{1, 2}, Cashbox: &sixteen}
	want.API.Listen = netip.MustParseAddrPort("0.0.0.0:9000")
	want.API.Timeout = 90 * time.Minute
	want.Payment.Enabled = false
	want.Payment.SessionTimeout = 90 * time.Second
	want.Catalog.Services = []service{{SKU: "WASH", Name: "Car wash", PriceCents: 1500}, {SKU: "DRY"}}
	want.Printers = map[string]printer{"kitchen": {Device: "/dev/ttyUSB0", Baud: 9600}}
	want.Labels = map[string]string{"site": "0012"} // maps are replaced, not merged
	want.TLS = &tlsSection{Cert: "/etc/totemd/cert.pem"}
	want.LogLevel = "debug"
	want.Extra = map[string]any{"a": []any{1, 2}}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", cfg, want)
	}

	wantPos := map[string]Pos{
		"kiosk":                           {2, 1},
		"kiosk.id":                        {3, 3},
		"api.listen":                      {11, 3},
		"payment.enabled":                 {14, 3},
		"catalog.services":                {17, 3},
		"catalog.services[0]":             {18, 7},
		"catalog.services[0].sku":         {18, 7},
		"catalog.services[1]":             {21, 7},
		"catalog.services[1].price_cents": {22, 7},
		"printers.kitchen":                {24, 3},
		"printers.kitchen.baud":           {26, 5},
		"labels.site":                     {28, 3},
		"tls.cert":                        {30, 3},
		"log_level":                       {31, 1},
		"extra":                           {32, 1},
		"kiosk.slots[1]":                  {8, 14},
		"catalog.services[0].price_cents": {20, 7},
		"catalog.services[1].sku":         {21, 7},
		"payment.session_timeout":         {15, 3},
		"api.timeout":                     {12, 3},
		"kiosk.cashbox":                   {9, 3},
		"printers.kitchen.device":         {25, 5},
		"printers":                        {23, 1},
		"catalog":                         {16, 1},
		"catalog.services[0].name":        {19, 7},
		"kiosk.ratio":                     {7, 3},
		"kiosk.debug":                     {6, 3},
		"kiosk.offset":                    {5, 3},
		"kiosk.retries":                   {4, 3},
		"kiosk.slots":                     {8, 3},
		"kiosk.slots[0]":                  {8, 11},
		"api":                             {10, 1},
		"payment":                         {13, 1},
		"labels":                          {27, 1},
		"tls":                             {29, 1},
	}
	if !reflect.DeepEqual(map[string]Pos(pos), wantPos) {
		for k, p := range pos {
			if wantPos[k] != p {
				t.Errorf("pos[%q] = %v, want %v", k, p, wantPos[k])
			}
		}
		for k := range wantPos {
			if _, ok := pos[k]; !ok {
				t.Errorf("pos[%q] missing", k)
			}
		}
	}
}

func TestDecodeNullKeepsDefaults(t *testing.T) {
	cfg := defaults()
	_, err := Decode("t.yaml", []byte(`
kiosk:
  name:
  retries: ~
  ratio: null
api:
  origins:
payment:
  currency: ""
tls:
log_level:
extra: ~
`), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := defaults()
	want.Payment.Currency = "" // a quoted empty string is a value, not null
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestDecodeEmptyListReplacesDefault(t *testing.T) {
	cfg := defaults()
	if _, err := Decode("t.yaml", []byte("api:\n  origins: []\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.API.Origins == nil || len(cfg.API.Origins) != 0 {
		t.Errorf("origins = %#v, want empty", cfg.API.Origins)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string   // the full error text, if set
		subs []string // substrings of it otherwise
	}{
		{"unknown key with suggestion", "api:\n  timeout: 5s\n  lisen: 1.2.3.4:80\n",
			`totemd.yaml:3:3: api.lisen: unknown key "lisen" (did you mean "listen"?)`, nil},
		{"unknown key transposed", "kiosk:\n  retires: 2\n",
			`totemd.yaml:2:3: kiosk.retires: unknown key "retires" (did you mean "retries"?)`, nil},
		{"unknown key by case", "Kiosk:\n  id: x\n",
			`totemd.yaml:1:1: Kiosk: unknown key "Kiosk" (did you mean "kiosk"?)`, nil},
		{"unknown key by prefix", "payment:\n  session: 5m\n",
			`totemd.yaml:2:3: payment.session: unknown key "session" (did you mean "session_timeout"?)`, nil},
		{"unknown key lists section keys", "kiosk:\n  colour: red\n",
			`totemd.yaml:2:3: kiosk.colour: unknown key "colour"; valid keys here are: id, name, retries, offset, debug, ratio, slots, cashbox`, nil},
		{"unknown top-level key", "database: x\n",
			`totemd.yaml:1:1: database: unknown key "database"; valid top-level keys are: kiosk, api, payment, catalog, printers, labels, tls, log_level, extra`, nil},
		{"key at the wrong indentation", "api:\n  timeout: 5s\nsession_timeout: 5m\n",
			`totemd.yaml:3:1: session_timeout: unknown key "session_timeout"; it is a key of payment, not of this section: check the indentation`, nil},
		{"key of list items misplaced", "catalog:\n  sku: X\n",
			`totemd.yaml:2:3: catalog.sku: unknown key "sku"; it is a key of catalog.services[], not of this section: check the indentation`, nil},
		{"unknown key in list item", "catalog:\n  services:\n    - sku: A\n    - sku: B\n      prise_cents: 5\n",
			`totemd.yaml:5:7: catalog.services[1].prise_cents: unknown key "prise_cents" (did you mean "price_cents"?)`, nil},
		{"inline struct key suggested", "payment:\n  enabeld: true\n",
			`totemd.yaml:2:3: payment.enabeld: unknown key "enabeld" (did you mean "enabled"?)`, nil},
		{"unexported field is not a key", "secret: x\n", "", []string{`1:1: secret: unknown key "secret"; valid top-level keys are: kiosk,`}},
		{"yaml:\"-\" field is not a key", "internal: x\n", "", []string{`1:1: internal: unknown key "internal"; valid top-level keys are: kiosk,`}},
		{"key of two other sections", "api:\n  name: x\n", "", []string{`2:3: api.name: unknown key "name"; it is a key of kiosk, catalog.services[], not of this section`}},
		{"not a duration", "payment:\n  session_timeout: abc\n",
			`totemd.yaml:2:20: payment.session_timeout: "abc" is not a duration; write it like 90s, 5m or 1h30m`, nil},
		{"duration without unit", "payment:\n  session_timeout: 90\n",
			`totemd.yaml:2:20: payment.session_timeout: "90" has no unit; add one, like 90s, 90m or 90h`, nil},
		{"duration in days", "api:\n  timeout: 2d\n",
			`totemd.yaml:2:12: api.timeout: "2d" is not a duration: days are not a unit here; write 48h`, nil},
		{"duration given a list", "api:\n  timeout: [5s]\n",
			"", []string{"2:12: api.timeout: expected a duration (write it like 90s, 5m or 1h30m), got a list"}},
		{"not a whole number", "catalog:\n  services:\n    - price_cents: dez\n",
			`totemd.yaml:3:20: catalog.services[0].price_cents: "dez" is not a whole number`, nil},
		{"fraction for an int", "catalog:\n  services:\n    - price_cents: 9.90\n",
			"", []string{"3:20: catalog.services[0].price_cents: \"9.90\" is not a whole number"}},
		{"int overflow", "kiosk:\n  offset: 200\n",
			`totemd.yaml:2:11: kiosk.offset: "200" is out of range; it must be a whole number from -128 to 127`, nil},
		{"int64 overflow", "catalog:\n  services:\n    - price_cents: 99999999999999999999\n",
			"", []string{`"99999999999999999999" is out of range; it must be a whole number from -9223372036854775808 to 9223372036854775807`}},
		{"uint overflow", "kiosk:\n  retries: 256\n",
			"", []string{`2:12: kiosk.retries: "256" is out of range; it must be a whole number from 0 to 255`}},
		{"negative uint", "printers:\n  p:\n    baud: -9600\n",
			"", []string{`3:11: printers.p.baud: "-9600" is out of range; it must be a whole number from 0 to 4294967295`}},
		{"not a bool", "kiosk:\n  debug: sim\n",
			`totemd.yaml:2:10: kiosk.debug: "sim" is not true or false`, nil},
		{"not a float", "kiosk:\n  ratio: half\n",
			"", []string{`2:10: kiosk.ratio: "half" is not a number`}},
		{"mapping for a list", "catalog:\n  services:\n    sku: A\n",
			`totemd.yaml:3:5: catalog.services: expected a list ("- item" lines, or [a, b]), got a section of "key: value" lines`, nil},
		{"scalar for a list", "api:\n  origins: http://x\n",
			"", []string{`2:12: api.origins: expected a list ("- item" lines, or [a, b]), got the value "http://x"`}},
		{"list for a section", "api:\n  - listen: x\n",
			`totemd.yaml:2:3: api: expected a section of "key: value" lines, got a list`, nil},
		{"scalar for a section", "payment: on\n",
			"", []string{`1:10: payment: expected a section of "key: value" lines, got the value "on"`}},
		{"list for a scalar", "kiosk:\n  id: [a, b]\n",
			`totemd.yaml:2:7: kiosk.id: expected a single value, got a list`, nil},
		{"map for a scalar", "kiosk:\n  name:\n    first: a\n",
			"", []string{`3:5: kiosk.name: expected a single value, got a section of "key: value" lines`}},
		{"scalar for a map of structs", "printers: lp0\n",
			"", []string{`1:11: printers: expected a section of "key: value" lines, got the value "lp0"`}},
		{"array length", "kiosk:\n  slots: [1, 2, 3]\n",
			"", []string{`2:10: kiosk.slots: expected a list of exactly 2 items, got 3`}},
		{"text unmarshaler error", "api:\n  listen: localhost\n",
			"", []string{`2:11: api.listen: "localhost" is not valid here: `}},
		{"yaml unmarshaler error", "log_level: loud\n",
			`totemd.yaml:1:12: log_level: unknown log level "loud"; use debug, info, warn or error`, nil},
		{"duplicate key", "api:\n  timeout: 5s\n  listen: 1.2.3.4:80\n  timeout: 6s\n",
			`totemd.yaml:4:3: api.timeout: key "timeout" appears twice, on lines 2 and 4; keep only one`, nil},
		{"duplicate key in flow map", "labels: {a: x, a: y}\n",
			"", []string{`1:16: labels.a: key "a" appears twice, on line 1; keep only one`}},
		{"non-scalar key", "labels:\n  ? [a]\n  : x\n",
			"", []string{`2:5: labels: a key must be a plain name, got a list`}},
		{"two documents", "kiosk:\n  id: a\n---\nkiosk:\n  id: b\n",
			`totemd.yaml:4:1: a second YAML document starts here, but the file must hold only one; remove the "---" line before it`, nil},
		{"empty file", "", "totemd.yaml: the file is empty", nil},
		{"only comments", "# nothing yet\n\n   # still nothing\n", "totemd.yaml: the file is empty", nil},
		{"only a document marker", "---\n", "totemd.yaml: the file is empty", nil},
		{"top level is a list", "- a\n- b\n",
			`totemd.yaml:1:1: the top level of the file must be "key: value" lines, got a list`, nil},
		{"top level is a value", "hello\n",
			`totemd.yaml:1:1: the top level of the file must be "key: value" lines, got the value "hello"`, nil},
		{"syntax: bad indentation", "api:\n  timeout: 5s\n listen: x\n",
			"", []string{"totemd.yaml:2: invalid YAML: did not find expected key; check the indentation"}},
		{"syntax: missing colon", "kiosk:\n  id: a\n  name b\n  retries: 2\n",
			"totemd.yaml:3: invalid YAML: could not find expected ':'; each setting must be written as \"key: value\"", nil},
		{"syntax: tab", "kiosk:\n\tid: a\n",
			"", []string{"totemd.yaml:2: invalid YAML: ", "use spaces, not tabs"}},
		{"syntax: unclosed quote", "kiosk:\n  id: \"a\n",
			"", []string{"totemd.yaml:2: invalid YAML: found unexpected end of stream; a quote or bracket is probably not closed"}},
		{"syntax: unknown alias", "kiosk:\n  id: *nope\n",
			"", []string{"totemd.yaml: invalid YAML: unknown anchor 'nope' referenced; an alias *name needs an anchor &name"}},
		{"syntax in second document", "kiosk:\n  id: a\n---\n[\n",
			"", []string{"totemd.yaml:", "invalid YAML"}},
		{"alias containing itself", "api:\n  origins: &o [a, *o]\n",
			"", []string{"2:19: api.origins[1]: the alias *o is inside the value anchored as &o; a value cannot contain itself"}},
		{"merge of a scalar", "api:\n  <<: 5\n",
			"", []string{`2:7: api: "<<" must be followed by an alias to a section`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaults()
			_, err := Decode("totemd.yaml", []byte(tt.yaml), &cfg)
			if err == nil {
				t.Fatal("no error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *Error: %v", err, err)
			}
			got := err.Error()
			if tt.want != "" && got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			for _, s := range tt.subs {
				if !strings.Contains(got, s) {
					t.Errorf("got  %s\nwant it to contain %s", got, s)
				}
			}
		})
	}
}

func TestDecodeReportsAllErrors(t *testing.T) {
	cfg := defaults()
	_, err := Decode("totemd.yaml", []byte(`kiosk:
  retries: many
  colour: red
api:
  timeout: 10
catalog:
  services:
    - sku: A
      price_cents: free
    - sku: B
      price: 5
`), &cfg)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %T %v, want Errors", err, err)
	}
	want := `totemd.yaml:2:12: kiosk.retries: "many" is not a whole number
totemd.yaml:3:3: kiosk.colour: unknown key "colour"; valid keys here are: id, name, retries, offset, debug, ratio, slots, cashbox
totemd.yaml:5:12: api.timeout: "10" has no unit; add one, like 10s, 10m or 10h
totemd.yaml:9:20: catalog.services[0].price_cents: "free" is not a whole number
totemd.yaml:11:7: catalog.services[1].price: unknown key "price" (did you mean "price_cents"?)`
	if got := err.Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if p, err := Decode("t.yaml", []byte("api:\n  timeout: x\n"), &cfg); err == nil || p["api.timeout"] != (Pos{2, 3}) {
		t.Errorf("positions with an error: %v, %v", p, err)
	}
	// The valid keys around the errors were still decoded.
	if len(cfg.Catalog.Services) != 2 || cfg.Catalog.Services[1].SKU != "B" {
		t.Errorf("services = %+v", cfg.Catalog.Services)
	}
}

func TestDecodeAliasesAndMerge(t *testing.T) {
	cfg := defaults()
	pos, err := Decode("t.yaml", []byte(`printers:
  base: &serial
    device: /dev/ttyS0
    baud: 9600
  kitchen:
    <<: *serial
    device: /dev/ttyS1
  bar: *serial
api:
  origins: &origins [http://a, http://b]
payment:
  <<: [{currency: USD}, {currency: EUR, session_timeout: 1m}]
labels:
  <<: {a: x}
`), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantPrinters := map[string]printer{
		"base":    {Device: "/dev/ttyS0", Baud: 9600},
		"kitchen": {Device: "/dev/ttyS1", Baud: 9600},
		"bar":     {Device: "/dev/ttyS0", Baud: 9600},
	}
	if !reflect.DeepEqual(cfg.Printers, wantPrinters) {
		t.Errorf("printers = %+v", cfg.Printers)
	}
	if cfg.Payment.Currency != "USD" || cfg.Payment.SessionTimeout != time.Minute {
		t.Errorf("payment = %+v", cfg.Payment)
	}
	if !reflect.DeepEqual(cfg.Labels, map[string]string{"a": "x"}) {
		t.Errorf("labels = %+v", cfg.Labels)
	}
	// Keys reached through an alias are placed where the anchored text is.
	for path, want := range map[string]Pos{
		"printers.kitchen.device": {7, 5},
		"printers.kitchen.baud":   {4, 5},
		"printers.bar":            {8, 3},
		"printers.bar.device":     {3, 5},
		"api.origins[1]":          {10, 32},
	} {
		if pos[path] != want {
			t.Errorf("pos[%q] = %v, want %v", path, pos[path], want)
		}
	}
}

func TestDecodeAliasErrorsPointAtAnchor(t *testing.T) {
	cfg := defaults()
	_, err := Decode("t.yaml", []byte("printers:\n  a: &p {baud: fast}\n  b: *p\n"), &cfg)
	want := "t.yaml:2:16: printers.a.baud: \"fast\" is not a whole number\n" +
		"t.yaml:2:16: printers.b.baud: \"fast\" is not a whole number"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestDecodeAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("extra: x\nl0: &l0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [*l%d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d]\n", i, i, i-1)
	}
	type deep struct {
		L [][][][][][][][][]string `yaml:"l8"`
	}
	var cfg struct {
		Extra string `yaml:"extra"`
		L     map[string]any
		deep  `yaml:",inline"`
	}
	start := time.Now()
	_, err := Decode("t.yaml", []byte(b.String()), &cfg)
	if err == nil || !strings.Contains(err.Error(), "aliases expand this file far beyond its written size") {
		t.Errorf("got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestDecodeRawNodeCRLFAndBOM(t *testing.T) {
	var cfg struct {
		Raw  yaml.Node `yaml:"raw"`
		Name string    `yaml:"name"`
	}
	pos, err := Decode("t.yaml", []byte("\ufeffname: a\r\nraw: {x: 1}\r\n"), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "a" || cfg.Raw.Kind != yaml.MappingNode || pos["raw"] != (Pos{2, 1}) {
		t.Errorf("got %+v, positions %v", cfg, pos)
	}
}

func TestDecodeInline(t *testing.T) {
	type Meta struct {
		Owner string `yaml:"owner"`
	}
	type section struct {
		*Meta `yaml:",inline"`
		Name  string            `yaml:"name"`
		Rest  map[string]string `yaml:",inline"`
	}
	var cfg struct {
		S section `yaml:"s"`
	}
	pos, err := Decode("t.yaml", []byte("s:\n  owner: ana\n  name: n\n  color: red\n"), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.S.Meta == nil || cfg.S.Owner != "ana" || cfg.S.Name != "n" || cfg.S.Rest["color"] != "red" {
		t.Errorf("got %+v", cfg.S)
	}
	if pos["s.color"] != (Pos{4, 3}) || pos["s.owner"] != (Pos{2, 3}) {
		t.Errorf("positions %v", pos)
	}
}

func TestDecodeGoTypeBugs(t *testing.T) {
	var twoKeys struct {
		A string `yaml:"a"`
		B string `yaml:"a"`
	}
	_, err := Decode("t.yaml", []byte("a: x\n"), &twoKeys)
	if err == nil || !strings.Contains(err.Error(), `internal error (not a problem in the file): Go type struct`) ||
		!strings.Contains(err.Error(), `two fields use the key "a"`) {
		t.Errorf("got %v", err)
	}
	var ch struct {
		C chan int `yaml:"c"`
	}
	_, err = Decode("t.yaml", []byte("c: 1\n"), &ch)
	if err == nil || !strings.Contains(err.Error(), "cannot decode into Go type chan int") {
		t.Errorf("got %v", err)
	}
	for _, out := range []any{nil, testConfig{}, new(int), (*testConfig)(nil)} {
		if _, err := Decode("t.yaml", []byte("a: 1\n"), out); err == nil {
			t.Errorf("Decode into %T: no error", out)
		} else if errors.As(err, new(*Error)) {
			t.Errorf("Decode into %T: %v is a file problem, want a programming error", out, err)
		}
	}
}

func TestDecodeNumbers(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"12", 12}, {"0012", 12}, {"+5", 5}, {"-5", -5}, {"1_000", 1000}, {"0x1F", 31}, {"0o17", 15}, {"0b101", 5}, {`"42"`, 42},
	}
	for _, tt := range tests {
		var c struct {
			N int64 `yaml:"n"`
		}
		if _, err := Decode("t.yaml", []byte("n: "+tt.in+"\n"), &c); err != nil || c.N != tt.want {
			t.Errorf("%s: got %d, %v; want %d", tt.in, c.N, err, tt.want)
		}
	}
	for _, bad := range []string{"1.0", "1e3", "12abc", "--1", "0x", "_"} {
		var c struct {
			N int64 `yaml:"n"`
		}
		if _, err := Decode("t.yaml", []byte("n: "+bad+"\n"), &c); err == nil || !strings.Contains(err.Error(), "is not a whole number") {
			t.Errorf("%s: got %v", bad, err)
		}
	}
	var f struct {
		F float32 `yaml:"f"`
	}
	if _, err := Decode("t.yaml", []byte("f: 1e100\n"), &f); err == nil || !strings.Contains(err.Error(), `"1e100" is out of range`) {
		t.Errorf("float32 overflow: got %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    *Error
		want string
	}{
		{&Error{File: "totemd.yaml", Line: 12, Column: 5, Path: "api.lisen", Msg: `unknown key "lisen" (did you mean "listen"?)`},
			`totemd.yaml:12:5: api.lisen: unknown key "lisen" (did you mean "listen"?)`},
		{&Error{File: "totemd.yaml", Path: "kiosk.id", Msg: "is required"}, "totemd.yaml: kiosk.id: is required"},
		{&Error{File: "totemd.yaml", Line: 3, Msg: "invalid YAML: x"}, "totemd.yaml:3: invalid YAML: x"},
		{&Error{Line: 3, Column: 2, Path: "a", Msg: "m"}, "line 3, column 2: a: m"},
		{&Error{Msg: "m"}, "m"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	errs := Errors{tests[0].e, tests[1].e}
	if got, want := errs.Error(), tests[0].want+"\n"+tests[1].want; got != want {
		t.Errorf("Errors: got %q, want %q", got, want)
	}
	if !errors.Is(errs, tests[1].e) {
		t.Error("errors.Is does not see inside Errors")
	}
}

func TestWithin(t *testing.T) {
	if Within("a", nil) != nil {
		t.Error("Within(nil) != nil")
	}
	err := Within("catalog", errors.Join(
		Within("services[1]", Errorf("price_cents", "must be more than %d", 0)),
		Within("services[2]", errors.Join(Errorf("sku", "is required"), Errorf("", "is a duplicate"))),
		errors.New("no services"),
		nil,
	))
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var walk func(error)
		walk = func(e error) {
			if j, ok := e.(interface{ Unwrap() []error }); ok {
				for _, x := range j.Unwrap() {
					walk(x)
				}
				return
			}
			fe := e.(*FieldError)
			got = append(got, fe.Path+" | "+fe.Msg)
		}
		walk(e)
	}
	want := []string{
		"catalog.services[1].price_cents | must be more than 0",
		"catalog.services[2].sku | is required",
		"catalog.services[2] | is a duplicate",
		"catalog | no services",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if s := Errorf("a.b", "bad %q", "x").Error(); s != `a.b: bad "x"` {
		t.Errorf("FieldError.Error() = %q", s)
	}
	if s := Within("", Errorf("x", "m")).Error(); s != "x: m" {
		t.Errorf("empty prefix: %q", s)
	}
}

const annotateYAML = `kiosk:
  name: Totem 1
catalog:
  services:
    - sku: WASH
      price_cents: 1500
    - sku: DRY
      price_cents: 0
    - name: no sku
      price_cents: 100
`

func TestAnnotate(t *testing.T) {
	cfg := defaults()
	pos, err := Decode("totemd.yaml", []byte(annotateYAML), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	verr := errors.Join(
		Within("kiosk", Errorf("id", "is required; set it to the kiosk's asset tag")),
		Within("api", Errorf("listen", "is required")),
		Within("catalog", cfg.Catalog.Validate()),
		fmt.Errorf("while checking: %w", Within("kiosk", Errorf("name", "must not contain spaces"))),
		errors.New("disk full"),
	)
	got := pos.Annotate("totemd.yaml", verr)
	want := `totemd.yaml:1:1: kiosk.id: is required; set it to the kiosk's asset tag
totemd.yaml:2:3: kiosk.name: must not contain spaces
totemd.yaml:8:7: catalog.services[1].price_cents: must be more than 0, got 0
totemd.yaml:9:7: catalog.services[2].sku: is required; give every service a unique SKU
totemd.yaml: api.listen: is required
totemd.yaml: disk full`
	if got == nil || got.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", got, want)
	}

	// A lone problem is an *Error.
	one := pos.Annotate("totemd.yaml", Within("catalog", Errorf("services[1].price_cents", "must be more than 0")))
	e, ok := one.(*Error)
	if !ok || e.Line != 8 || e.Column != 7 || e.Path != "catalog.services[1].price_cents" {
		t.Errorf("got %#v", one)
	}
	if pos.Annotate("x", nil) != nil {
		t.Error("Annotate(nil) != nil")
	}
	// Decode's own errors pass through.
	_, derr := Decode("totemd.yaml", []byte("kiosk: [1]\n"), &cfg)
	if got := Positions(nil).Annotate("totemd.yaml", derr); got.Error() != derr.Error() {
		t.Errorf("got %v, want %v", got, derr)
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"listen", "timeout", "session_timeout", "origins", "id"}
	for name, want := range map[string]string{
		"lisen":          "listen",
		"Listen":         "listen",
		"LISTEN":         "listen",
		"sessionTimeout": "session_timeout",
		"session-timout": "session_timeout",
		"timeouts":       "timeout",
		"origin":         "origins",
		"ip":             "id",
		"x":              "",
		"database":       "",
		"tim":            "timeout",
		"ti":             "",
	} {
		if got := suggest(name, keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", name, got, want)
		}
	}
}
