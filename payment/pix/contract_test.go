package pix_test

// Contract tests: what the client sends, captured by the recording proxy in front of the
// simulator, checked against the API Pix OpenAPI document (v2.9.0, the official text).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/totemd/totemd/payment/pix"
	"github.com/totemd/totemd/payment/pix/pixsim"
)

const specFile = "pixsim/testdata/bcb-pix-api-2.9.0.yaml"

// oasDoc is the OpenAPI document as generic YAML values.
type oasDoc struct{ root map[string]any }

var (
	oasOnce sync.Once
	oasDocV *oasDoc
	oasErr  error
)

func loadOAS(t *testing.T) *oasDoc {
	t.Helper()
	oasOnce.Do(func() {
		data, err := os.ReadFile(specFile)
		if err != nil {
			oasErr = err
			return
		}
		var root map[string]any
		if err := yaml.Unmarshal(data, &root); err != nil {
			oasErr = err
			return
		}
		oasDocV = &oasDoc{root: root}
	})
	if oasErr != nil {
		t.Fatalf("loading %s: %v", specFile, oasErr)
	}
	return oasDocV
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

func asList(v any) []any { l, _ := v.([]any); return l }

func asNum(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string: // the document writes some numbers as strings ("3600")
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// resolve follows a local $ref ("#/components/schemas/X").
func (d *oasDoc) resolve(ref string) any {
	if !strings.HasPrefix(ref, "#/") {
		panic("external $ref " + ref)
	}
	var v any = d.root
	for _, p := range strings.Split(ref[2:], "/") {
		v = asMap(v)[strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")]
	}
	if v == nil {
		panic("dangling $ref " + ref)
	}
	return v
}

// deref follows $ref until a node without one.
func (d *oasDoc) deref(v any) any {
	for range 20 {
		ref, ok := asMap(v)["$ref"].(string)
		if !ok {
			return v
		}
		v = d.resolve(ref)
	}
	panic("$ref loop")
}

var (
	patMu    sync.Mutex
	patCache = map[string]*regexp.Regexp{}
)

// anchored compiles an OpenAPI pattern anchored at both ends (JSON Schema patterns are not
// anchored; the spec means whole values). Some are written as JavaScript literals: "/^...$/".
func anchored(p string) *regexp.Regexp {
	patMu.Lock()
	defer patMu.Unlock()
	if re, ok := patCache[p]; ok {
		return re
	}
	src := p
	if len(src) > 2 && strings.HasPrefix(src, "/") && strings.HasSuffix(src, "/") {
		src = src[1 : len(src)-1]
	}
	re := regexp.MustCompile(`^(?:` + src + `)$`)
	patCache[p] = re
	return re
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// validate returns how v breaks schema s: $ref, allOf, oneOf, anyOf, type, enum, required,
// properties, items, pattern (anchored), min/maxLength, minimum/maximum, maxItems (and the
// spec's "maximum" on an array, which means maxItems), format date-time.
func (d *oasDoc) validate(s, v any, at string) []string {
	s = d.deref(s)
	m := asMap(s)
	var errs []string
	bad := func(f string, a ...any) { errs = append(errs, at+": "+fmt.Sprintf(f, a...)) }
	for _, sub := range asList(m["allOf"]) {
		errs = append(errs, d.validate(sub, v, at)...)
	}
	for _, key := range []string{"oneOf", "anyOf"} {
		if alts := asList(m[key]); len(alts) > 0 {
			n := 0
			for _, alt := range alts {
				if len(d.validate(alt, v, at)) == 0 {
					n++
				}
			}
			if n == 0 || (key == "oneOf" && n > 1) {
				bad("matches %d of the %s alternatives", n, key)
			}
		}
	}
	if typ, ok := m["type"].(string); ok {
		got := jsonType(v)
		if got != typ && (typ != "number" || got != "integer") {
			bad("is %s, want %s", got, typ)
			return errs
		}
	}
	if enum := asList(m["enum"]); len(enum) > 0 {
		if !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
			bad("%v is not one of %v", v, enum)
		}
	}
	switch x := v.(type) {
	case string:
		if p, ok := m["pattern"].(string); ok && !anchored(p).MatchString(x) {
			bad("%q does not match %s", x, p)
		}
		if n, ok := asNum(m["maxLength"]); ok && utf8.RuneCountInString(x) > int(n) {
			bad("%d characters, at most %v", utf8.RuneCountInString(x), n)
		}
		if n, ok := asNum(m["minLength"]); ok && utf8.RuneCountInString(x) < int(n) {
			bad("%d characters, at least %v", utf8.RuneCountInString(x), n)
		}
		if m["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339, x); err != nil {
				bad("%q is not an RFC 3339 date-time", x)
			}
		}
	case json.Number:
		f, _ := x.Float64()
		if n, ok := asNum(m["minimum"]); ok && f < n {
			bad("%v below the minimum %v", f, n)
		}
		if n, ok := asNum(m["maximum"]); ok && f > n {
			bad("%v above the maximum %v", f, n)
		}
	case []any:
		for _, key := range []string{"maxItems", "maximum"} {
			if n, ok := asNum(m[key]); ok && len(x) > int(n) {
				bad("%d items, at most %v", len(x), n)
			}
		}
		if items, ok := m["items"]; ok {
			for i, e := range x {
				errs = append(errs, d.validate(items, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case map[string]any:
		for _, r := range asList(m["required"]) {
			if _, ok := x[r.(string)]; !ok {
				bad("required member %q is missing", r)
			}
		}
		for name, ps := range asMap(m["properties"]) {
			if pv, ok := x[name]; ok {
				errs = append(errs, d.validate(ps, pv, at+"."+name)...)
			}
		}
	}
	return errs
}

// nodes visits s and every schema it is made of at the same level ($ref, allOf, oneOf, anyOf).
func (d *oasDoc) nodes(s any, visit func(map[string]any)) {
	m := asMap(d.deref(s))
	if m == nil {
		return
	}
	visit(m)
	for _, key := range []string{"allOf", "oneOf", "anyOf"} {
		for _, sub := range asList(m[key]) {
			d.nodes(sub, visit)
		}
	}
}

// unknown reports members of v that schema s does not define anywhere (the client must not
// invent fields: PSPs answer 400 for them, as the simulator does).
func (d *oasDoc) unknown(s, v any, at string) []string {
	var errs []string
	switch x := v.(type) {
	case map[string]any:
		props := map[string][]any{}
		d.nodes(s, func(m map[string]any) {
			for name, ps := range asMap(m["properties"]) {
				props[name] = append(props[name], ps)
			}
		})
		for name, pv := range x {
			subs, ok := props[name]
			if !ok {
				errs = append(errs, fmt.Sprintf("%s.%s: not a member of the schema", at, name))
				continue
			}
			for _, sub := range subs {
				errs = append(errs, d.unknown(sub, pv, at+"."+name)...)
			}
		}
	case []any:
		d.nodes(s, func(m map[string]any) {
			if items, ok := m["items"]; ok {
				for i, e := range x {
					errs = append(errs, d.unknown(items, e, fmt.Sprintf("%s[%d]", at, i))...)
				}
			}
		})
	}
	return errs
}

func (d *oasDoc) check(s, v any, at string) []string {
	errs := append(d.validate(s, v, at), d.unknown(s, v, at)...)
	sort.Strings(errs)
	return slices.Compact(errs)
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return v
}

// operation finds the spec's path template and operation for a request.
func (d *oasDoc) operation(method, path string) (tmpl string, params map[string]string, op map[string]any) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	paths := asMap(d.root["paths"])
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys) // literal segments sort before "{": prefer /cob over /{pixUrlAccessToken}
	for _, k := range keys {
		ts := strings.Split(strings.Trim(k, "/"), "/")
		if len(ts) != len(segs) {
			continue
		}
		ps := map[string]string{}
		ok := true
		for i, tseg := range ts {
			if strings.HasPrefix(tseg, "{") && strings.HasSuffix(tseg, "}") {
				v, err := url.PathUnescape(segs[i])
				if err != nil || v == "" {
					ok = false
					break
				}
				ps[tseg[1:len(tseg)-1]] = v
			} else if tseg != segs[i] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if o := asMap(asMap(paths[k])[strings.ToLower(method)]); o != nil {
			return k, ps, o
		}
	}
	return "", nil, nil
}

// parameters are a path's and its operation's parameters, by "in:name".
func (d *oasDoc) parameters(tmpl string, op map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, src := range []any{asMap(asMap(d.root["paths"])[tmpl])["parameters"], op["parameters"]} {
		for _, p := range asList(src) {
			pm := asMap(d.deref(p))
			out[fmt.Sprint(pm["in"])+":"+fmt.Sprint(pm["name"])] = pm
		}
	}
	return out
}

// paramValue turns a raw parameter into the JSON value its schema expects.
func (d *oasDoc) paramValue(schema any, raw string) any {
	typ := ""
	d.nodes(schema, func(m map[string]any) {
		if s, ok := m["type"].(string); ok {
			typ = s
		}
	})
	switch typ {
	case "integer", "number":
		return json.Number(raw)
	case "boolean":
		if b, err := strconv.ParseBool(raw); err == nil {
			return b
		}
	}
	return raw
}

// requestSchema is the JSON schema of op's request body and the name it refers to.
func (d *oasDoc) requestSchema(op map[string]any) (any, string) {
	rb := asMap(d.deref(op["requestBody"]))
	sch := asMap(asMap(asMap(rb["content"])["application/json"])["schema"])
	ref, _ := sch["$ref"].(string)
	return sch, strings.TrimPrefix(ref, "#/components/schemas/")
}

func TestContractCheckerSelfTest(t *testing.T) {
	d := loadOAS(t)
	key := pixsim.DefaultPixKey
	cases := []struct {
		schema, body string
		want         []string // substrings of the problems; none: valid
	}{
		{"CobSolicitada", `{"calendario":{"expiracao":3600},"valor":{"original":"10.00"},"chave":"` + key + `","solicitacaoPagador":"x","infoAdicionais":[{"nome":"a","valor":"b"}]}`, nil},
		{"CobSolicitada", `{"calendario":{"expiracao":"3600"},"valor":{"original":"1.5"},"chave":"` + key + `"}`, []string{".calendario.expiracao: is string", `.valor.original: "1.5" does not match`}},
		{"CobSolicitada", `{"calendario":{"expiracao":3600},"valor":{"original":"-1.005"},"chave":"` + key + `"}`, []string{"does not match"}}, // an unanchored pattern would accept it
		{"CobSolicitada", `{"calendario":{"expiracao":3600},"valor":{}}`, []string{`"chave" is missing`, `.valor: required member "original"`}},
		{"CobSolicitada", `{"calendario":{"expiracao":3600,"criacao":"2025-01-01T00:00:00Z"},"valor":{"original":"1.00"},"chave":"k","extra":1}`, []string{".calendario.criacao: not a member", ".extra: not a member"}},
		{"CobSolicitada", `{"calendario":{"expiracao":3600},"valor":{"original":"1.00"},"chave":"k","solicitacaoPagador":"` + strings.Repeat("é", 141) + `"}`, []string{"141 characters, at most 140"}},
		{"CobSolicitada", `{"calendario":{"expiracao":3600},"valor":{"original":"1.00"},"chave":"k","infoAdicionais":[{"nome":"a"}]}`, []string{`infoAdicionais[0]: required member "valor"`}},
		{"CobRevisada", `{"status":"REMOVIDA_PELO_USUARIO_RECEBEDOR"}`, nil},
		{"CobRevisada", `{"status":"ATIVA"}`, []string{"is not one of"}},
		{"DevolucaoSolicitada", `{"valor":"1.00","natureza":"ORIGINAL","descricao":"d"}`, nil},
		{"DevolucaoSolicitada", `{"valor":"1.00","natureza":"OUTRA"}`, []string{"natureza"}},
		{"DevolucaoSolicitada", `{"descricao":"d"}`, []string{`"valor" is missing`}},
		{"WebhookSolicitado", `{"webhookUrl":"https://x.example/wh"}`, nil},
		{"WebhookSolicitado", `{"url":"https://x.example/wh"}`, []string{`"webhookUrl" is missing`, ".url: not a member"}},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d_%s", i, tc.schema), func(t *testing.T) {
			errs := d.check(d.resolve("#/components/schemas/"+tc.schema), decodeJSON(t, []byte(tc.body)), "body")
			if len(tc.want) == 0 && len(errs) > 0 {
				t.Errorf("valid body refused: %v", errs)
			}
			for _, w := range tc.want {
				if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, w) }) {
					t.Errorf("problems %v lack %q", errs, w)
				}
			}
		})
	}
	if tmpl, ps, op := d.operation("GET", "/pix/E12345678202503101800abcdefghijk/devolucao/d1"); tmpl != "/pix/{e2eid}/devolucao/{id}" || ps["id"] != "d1" || op == nil {
		t.Errorf("operation lookup: %q %v", tmpl, ps)
	}
	if tmpl, _, _ := d.operation("POST", "/cob/abc"); tmpl != "" {
		t.Errorf("POST /cob/{txid} found at %q: the spec has none", tmpl)
	}
}

// TestContract drives every operation of the client through the recording proxy and checks
// each request against the spec: the path and method exist, path and query parameters match
// their schemas, and bodies match their request schema, with no member the schema lacks.
func TestContract(t *testing.T) {
	d := loadOAS(t)
	clk := newFakeClock()
	sim := startSim(t, pixsim.Options{Now: clk.Now})
	p := newPSP(t, sim, nil)
	c := newClient(t, p.config(t, "bcb", "/v2"), pix.Options{Now: clk.Now})
	ctx := testCtx(t)
	key := sim.Options().PixKey

	full := newTxID()
	req := cobReq(key, 4599)
	req.InfoAdicionais = []pix.InfoAdicional{{Nome: "Totem", Valor: "7"}, {Nome: "Pedido", Valor: "Café com pão de queijo"}}
	if _, err := c.PutCob(ctx, full, req); err != nil {
		t.Fatal(err)
	}
	minimal := newTxID()
	if _, err := c.PutCob(ctx, minimal, pix.CobRequest{Calendario: pix.Calendario{Expiracao: 60, Criacao: t0}, Valor: pix.Valor{Original: "1.00"}, Chave: key}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RemoveCob(ctx, minimal); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Second)
	e2e, err := sim.Pay(full, 4599)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetCob(ctx, full); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AllPix(ctx, t0.Add(-time.Hour), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPix(ctx, e2e); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutDevolucao(ctx, e2e, "dev1", pix.DevolucaoRequest{Valor: "10.00", Natureza: "ORIGINAL", Descricao: "Troco não entregue"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutDevolucao(ctx, e2e, "dev2", pix.DevolucaoRequest{Valor: "0.99"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetDevolucao(ctx, e2e, "dev1"); err != nil {
		t.Fatal(err)
	}
	if err := c.PutWebhook(ctx, key, "https://cloud.totemd.example/pix/webhook"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetWebhook(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteWebhook(ctx, key); err != nil {
		t.Fatal(err)
	}

	wantSchemas := map[string]string{
		"PUT /cob/{txid}":                 "CobSolicitada",
		"PATCH /cob/{txid}":               "CobRevisada",
		"PUT /pix/{e2eid}/devolucao/{id}": "DevolucaoSolicitada",
		"PUT /webhook/{chave}":            "WebhookSolicitado",
	}
	seen := map[string]int{}
	for _, r := range p.requests() {
		path := apiPath(r.Path)
		if path == "/oauth/token" {
			continue
		}
		if !strings.HasPrefix(r.Path, "/v2/") {
			t.Errorf("%v: not under the configured base /v2", r)
		}
		tmpl, pathParams, op := d.operation(r.Method, path)
		if op == nil {
			t.Errorf("%s %s: no such operation in the spec", r.Method, path)
			continue
		}
		name := r.Method + " " + tmpl
		seen[name]++
		params := d.parameters(tmpl, op)
		for pn, pv := range pathParams {
			pd, ok := params["path:"+pn]
			if !ok {
				t.Errorf("%s: path parameter %s not declared", name, pn)
				continue
			}
			for _, e := range d.validate(pd["schema"], pv, name+" {"+pn+"}") {
				t.Error(e)
			}
		}
		q, err := url.ParseQuery(r.Query)
		if err != nil {
			t.Errorf("%s: query %q: %v", name, r.Query, err)
		}
		for qn, vals := range q {
			pd, ok := params["query:"+qn]
			if !ok {
				t.Errorf("%s: query parameter %q is not in the spec", name, qn)
				continue
			}
			for _, v := range vals {
				for _, e := range d.validate(pd["schema"], d.paramValue(pd["schema"], v), name+" ?"+qn) {
					t.Error(e)
				}
			}
		}
		for k, pd := range params {
			if strings.HasPrefix(k, "query:") && pd["required"] == true && !q.Has(strings.TrimPrefix(k, "query:")) {
				t.Errorf("%s: required query parameter %s missing", name, k)
			}
		}
		if op["requestBody"] == nil {
			if len(r.Body) != 0 {
				t.Errorf("%s sent a body: %s", name, r.Body)
			}
			continue
		}
		schema, ref := d.requestSchema(op)
		if want := wantSchemas[name]; ref != want {
			t.Errorf("%s: request schema %q, want %q", name, ref, want)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", name, ct)
		}
		for _, e := range d.check(schema, decodeJSON(t, r.Body), name+" body") {
			t.Errorf("%s\n  body %s", e, r.Body)
		}
		if r.Status < 200 || r.Status > 299 {
			t.Errorf("%s answered %d", name, r.Status)
		}
	}
	want := []string{
		"GET /cob/{txid}", "PUT /cob/{txid}", "PATCH /cob/{txid}", "GET /pix", "GET /pix/{e2eid}",
		"PUT /pix/{e2eid}/devolucao/{id}", "GET /pix/{e2eid}/devolucao/{id}",
		"PUT /webhook/{chave}", "GET /webhook/{chave}", "DELETE /webhook/{chave}",
	}
	for _, w := range want {
		if seen[w] == 0 {
			t.Errorf("operation %s never called (seen %v)", w, seen)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("operations called %v, want exactly %v", seen, want)
	}
}
