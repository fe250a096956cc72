package pixsim

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// openAPI is the API Pix document, loaded once. The validator below covers what the schemas
// the simulator answers with use: $ref, allOf, oneOf, anyOf, type, required, properties,
// items, enum, pattern (unanchored, as JSON Schema has it), min/maxLength, minimum/maximum and
// the date-time format. "format: uri" is not checked: the spec's own `location` example has
// no scheme.
type openAPI struct{ root any }

var (
	specOnce sync.Once
	spec     *openAPI
	specErr  error
)

func loadSpec(t *testing.T) *openAPI {
	t.Helper()
	specOnce.Do(func() {
		data, err := os.ReadFile("testdata/bcb-pix-api-2.9.0.yaml")
		if err != nil {
			specErr = err
			return
		}
		var root any
		if err := yaml.Unmarshal(data, &root); err != nil {
			specErr = err
			return
		}
		spec = &openAPI{root: root}
	})
	if specErr != nil {
		t.Fatalf("loading the OpenAPI document: %v", specErr)
	}
	return spec
}

func mget(v any, key string) any {
	switch m := v.(type) {
	case map[string]any:
		return m[key]
	case map[any]any:
		return m[key]
	}
	return nil
}

func (o *openAPI) resolve(ref string) any {
	if !strings.HasPrefix(ref, "#/") {
		panic("external $ref " + ref)
	}
	v := o.root
	for _, p := range strings.Split(ref[2:], "/") {
		v = mget(v, p)
	}
	if v == nil {
		panic("dangling $ref " + ref)
	}
	return v
}

func (o *openAPI) schema(name string) any { return o.resolve("#/components/schemas/" + name) }

var patternCache sync.Map

func compilePattern(p string) *regexp.Regexp {
	if re, ok := patternCache.Load(p); ok {
		return re.(*regexp.Regexp)
	}
	src := p
	if len(src) > 2 && strings.HasPrefix(src, "/") && strings.HasSuffix(src, "/") {
		src = src[1 : len(src)-1] // the spec writes some as JavaScript literals: "/^\d{11}$/"
	}
	re := regexp.MustCompile(src)
	patternCache.Store(p, re)
	return re
}

// validate returns the ways v breaks sch ("" when none), each prefixed by where.
func (o *openAPI) validate(sch, v any, at string) []string {
	if ref, ok := mget(sch, "$ref").(string); ok {
		return o.validate(o.resolve(ref), v, at)
	}
	var errs []string
	bad := func(f string, a ...any) { errs = append(errs, at+": "+fmt.Sprintf(f, a...)) }
	for _, sub := range asSlice(mget(sch, "allOf")) {
		errs = append(errs, o.validate(sub, v, at)...)
	}
	if alts := asSlice(mget(sch, "oneOf")); len(alts) > 0 {
		n := 0
		for _, alt := range alts {
			if len(o.validate(alt, v, at)) == 0 {
				n++
			}
		}
		if n != 1 {
			bad("matches %d of the oneOf alternatives", n)
		}
	}
	if alts := asSlice(mget(sch, "anyOf")); len(alts) > 0 {
		if !slices.ContainsFunc(alts, func(alt any) bool { return len(o.validate(alt, v, at)) == 0 }) {
			bad("matches none of the anyOf alternatives")
		}
	}
	if typ, ok := mget(sch, "type").(string); ok {
		good := false
		switch typ {
		case "object":
			_, good = v.(map[string]any)
		case "array":
			_, good = v.([]any)
		case "string":
			_, good = v.(string)
		case "boolean":
			_, good = v.(bool)
		case "number":
			_, good = v.(float64)
		case "integer":
			f, isNum := v.(float64)
			good = isNum && f == float64(int64(f))
		}
		if !good {
			bad("%v (%T) is not of type %s", v, v, typ)
			return errs
		}
	}
	if enum := asSlice(mget(sch, "enum")); len(enum) > 0 && !slices.Contains(enum, v) {
		bad("%v is not one of %v", v, enum)
	}
	switch x := v.(type) {
	case map[string]any:
		for _, r := range asSlice(mget(sch, "required")) {
			if _, ok := x[r.(string)]; !ok {
				bad("missing required %s", r)
			}
		}
		props := mget(sch, "properties")
		for k, val := range x {
			if ps := mget(props, k); ps != nil {
				errs = append(errs, o.validate(ps, val, at+"."+k)...)
			}
		}
	case []any:
		if items := mget(sch, "items"); items != nil {
			for i, e := range x {
				errs = append(errs, o.validate(items, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case string:
		if p, ok := mget(sch, "pattern").(string); ok && !compilePattern(p).MatchString(x) {
			bad("%q does not match %s", x, p)
		}
		if n, ok := mget(sch, "maxLength").(int); ok && utf8.RuneCountInString(x) > n {
			bad("%q is longer than %d", x, n)
		}
		if n, ok := mget(sch, "minLength").(int); ok && utf8.RuneCountInString(x) < n {
			bad("%q is shorter than %d", x, n)
		}
		if mget(sch, "format") == "date-time" {
			if _, err := time.Parse(time.RFC3339, x); err != nil {
				bad("%q is not an RFC 3339 date-time", x)
			}
		}
	case float64:
		if n, ok := mget(sch, "minimum").(int); ok && x < float64(n) {
			bad("%v is below %d", x, n)
		}
		if n, ok := mget(sch, "maximum").(int); ok && x > float64(n) {
			bad("%v is above %d", x, n)
		}
	}
	return errs
}

// conforms checks an answer against a schema of the spec; allowed are errors the spec makes
// unavoidable (named in the call).
func (o *openAPI) conforms(t *testing.T, what string, r resp, schema string, allowed ...string) {
	t.Helper()
	errs := o.validate(o.schema(schema), r.obj(t), "$")
	errs = slices.DeleteFunc(errs, func(e string) bool { return slices.Contains(allowed, e) })
	for _, e := range errs {
		t.Errorf("%s is not a valid %s: %s", what, schema, e)
	}
}

func TestValidatorRejects(t *testing.T) {
	o := loadSpec(t)
	for _, tc := range []struct {
		schema string
		doc    map[string]any
	}{
		{"Devolucao", map[string]any{"id": "1", "rtrId": "D", "valor": "1.00", "horario": map[string]any{}, "status": "EM_PROCESSAMENTO"}},
		{"Devolucao", map[string]any{"id": "1", "rtrId": "D12345678202009091000abcde123456", "valor": "1.00", "horario": map[string]any{}, "status": "FEITO"}},
		{"Pix", map[string]any{"endToEndId": "E12345678202009091221abcdef12345", "valor": "1.00"}},
		{"CobGerada", map[string]any{"txid": "x", "calendario": map[string]any{"expiracao": 1}, "revisao": 0, "status": "ATIVA", "valor": map[string]any{"original": "1.00"}, "chave": "k"}},
		{"Problema", map[string]any{"type": "x", "title": "y", "status": "400"}},
	} {
		if len(o.validate(o.schema(tc.schema), tc.doc, "$")) == 0 {
			t.Errorf("the validator accepts an invalid %s: %v", tc.schema, tc.doc)
		}
	}
}

func TestAnswersMatchTheSpec(t *testing.T) {
	o := loadSpec(t)
	e := newEnv(t)
	id := txid(1)
	body := cobBody(10000)
	body["devedor"] = map[string]any{"cnpj": "12345678000195", "nome": "Empresa de Serviços SA"}
	body["infoAdicionais"] = []any{map[string]any{"nome": "Campo 1", "valor": "Informação"}}
	r := e.call("PUT", "/cob/"+id, body)
	o.conforms(t, "PUT /cob", r, "CobGerada")
	o.conforms(t, "GET /cob (ATIVA)", e.call("GET", "/cob/"+id, nil), "CobCompleta")

	e2e := e.mustPay(id, 10000)
	r = e.call("PUT", "/pix/"+e2e+"/devolucao/R1", map[string]any{"valor": "10.00", "descricao": "troca"})
	o.conforms(t, "PUT devolucao", r, "Devolucao")
	o.conforms(t, "GET devolucao", e.call("GET", "/pix/"+e2e+"/devolucao/R1", nil), "Devolucao")
	o.conforms(t, "GET /cob (CONCLUIDA)", e.call("GET", "/cob/"+id, nil), "CobCompleta")
	o.conforms(t, "GET /pix/{e2eid}", e.call("GET", "/pix/"+e2e, nil), "Pix")
	// PixConsultados lists "cobs" as required but its array is "pix" (a copy-paste slip in the
	// spec; every PSP answers "pix"): that one error is expected.
	o.conforms(t, "GET /pix", e.call("GET", "/pix?inicio=2025-03-10T00:00:00Z&fim=2025-03-11T00:00:00Z", nil),
		"PixConsultados", "$: missing required cobs")

	e.mustCreate(txid(2), 100)
	o.conforms(t, "PATCH /cob", e.call("PATCH", "/cob/"+txid(2), map[string]any{"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"}), "CobGerada")
	o.conforms(t, "GET /cob?revisao=0", e.call("GET", "/cob/"+txid(2)+"?revisao=0", nil), "CobCompleta")

	e.call("PUT", "/webhook/"+DefaultPixKey, map[string]any{"webhookUrl": "https://cloud.example.com/pix"})
	o.conforms(t, "GET /webhook", e.call("GET", "/webhook/"+DefaultPixKey, nil), "WebhookCompleto")

	bad := cobBody(100)
	bad["valor"] = map[string]any{"original": "1"}
	o.conforms(t, "400", e.call("PUT", "/cob/"+txid(3), bad), "Problema")
	o.conforms(t, "404", e.call("GET", "/cob/"+txid(9), nil), "Problema")
	o.conforms(t, "401", must(e.raw("GET", "/cob/"+id, nil, nil)), "Problema")
	e.sim.Fail(Fault{Status: 503})
	o.conforms(t, "503", e.call("GET", "/cob/"+id, nil), "Problema")
}

// The spec's own request examples are accepted (the location-bound cobBody3 aside: this PSP
// creates locations only with charges; and Saque/Troco bodies aside: not offered).
func TestSpecExamplesAccepted(t *testing.T) {
	o := loadSpec(t)
	e := newEnv(t)
	example := func(name string) map[string]any {
		m, ok := toJSON(mget(o.resolve("#/components/examples/"+name), "value")).(map[string]any)
		if !ok {
			t.Fatalf("example %s", name)
		}
		if _, ok := m["chave"]; ok {
			m["chave"] = DefaultPixKey
		}
		return m
	}
	if r := e.call("PUT", "/cob/"+txid(1), example("cobBody2")); r.status != 201 {
		t.Fatalf("cobBody2: %v", r)
	}
	for _, name := range []string{"cobBody4", "cobBody5"} {
		if r := e.call("PATCH", "/cob/"+txid(1), example(name)); r.status != 200 {
			t.Fatalf("%s: %v", name, r)
		}
	}
	e.mustCreate(txid(2), 1000)
	p := e.mustPay(txid(2), 1000)
	if r := e.call("PUT", "/pix/"+p+"/devolucao/1", example("devolucaoSolicitada1")); r.status != 201 {
		t.Fatalf("devolucaoSolicitada1: %v", r)
	}
	if r := e.call("PUT", "/webhook/"+DefaultPixKey, example("webhookBody1")); r.status != 200 {
		t.Fatalf("webhookBody1: %v", r)
	}
}

// toJSON turns YAML-decoded values into what encoding/json would decode.
func toJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = toJSON(e)
		}
		return out
	case map[any]any:
		out := map[string]any{}
		for k, e := range x {
			out[fmt.Sprint(k)] = toJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toJSON(e)
		}
		return out
	case int:
		return float64(x)
	}
	return v
}
