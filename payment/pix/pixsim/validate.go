package pixsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// violacao is one entry of a problem's `violacoes`.
type violacao struct {
	Razao       string `json:"razao"`
	Propriedade string `json:"propriedade"`
	Valor       string `json:"valor,omitempty"`
}

var (
	txidRe     = regexp.MustCompile(`^[a-zA-Z0-9]{26,35}$`)
	e2eRe      = regexp.MustCompile(`^[a-zA-Z0-9]{32}$`)
	refundIDRe = regexp.MustCompile(`^[a-zA-Z0-9]{1,35}$`)
	cpfRe      = regexp.MustCompile(`^\d{11}$`)
	cnpjRe     = regexp.MustCompile(`^[0-9A-Z]{14}$`)
)

// defaultExpiracao is CobExpiracao's default (seconds).
const defaultExpiracao = 86400

// checker collects violations.
type checker struct{ v []violacao }

func (c *checker) add(prop, razao string, val any) {
	c.v = append(c.v, violacao{Razao: razao, Propriedade: prop, Valor: valStr(val)})
}

func (c *checker) ok() bool { return len(c.v) == 0 }

// valStr writes a JSON value for `violacoes[].valor`; nil (absent) gives "".
func valStr(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// decodeObject reads a request body that must be exactly one JSON object. Numbers stay
// json.Number (so 10 and 10.0 and 1e1 can be told apart) and null members are dropped (an
// optional member set to null is absent).
func decodeObject(body []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("o corpo não é JSON válido: %v", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("o corpo tem conteúdo após o objeto JSON")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("o corpo deve ser um objeto JSON")
	}
	dropNulls(m)
	return m, nil
}

func dropNulls(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			dropNulls(x)
		case []any:
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					dropNulls(em)
				}
			}
		}
	}
}

// unknown flags every member of m not in known.
func (c *checker) unknown(m map[string]any, prefix string, known ...string) {
	var keys []string
	for k := range m {
		if !slices.Contains(known, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		c.add(prefix+"."+k, "O campo "+prefix+"."+k+" não é reconhecido (não faz parte do schema).", m[k])
	}
}

// object returns m[key] as an object; present reports the member exists.
func (c *checker) object(m map[string]any, key, prop string) (obj map[string]any, present bool) {
	v, ok := m[key]
	if !ok {
		return nil, false
	}
	o, isObj := v.(map[string]any)
	if !isObj {
		c.add(prop, "O campo "+prop+" deve ser um objeto.", v)
		return nil, true
	}
	return o, true
}

// str returns m[key] as a string no longer than maxLen characters (0: no limit).
func (c *checker) str(m map[string]any, key, prop string, maxLen int) (s string, present, ok bool) {
	v, exists := m[key]
	if !exists {
		return "", false, false
	}
	s, isStr := v.(string)
	if !isStr {
		c.add(prop, "O campo "+prop+" deve ser uma string.", v)
		return "", true, false
	}
	if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
		c.add(prop, fmt.Sprintf("O campo %s não respeita o schema: no máximo %d caracteres.", prop, maxLen), s)
		return s, true, false
	}
	return s, true, true
}

// integer returns m[key] as a 32-bit integer.
func (c *checker) integer(m map[string]any, key, prop string) (n int, present, ok bool) {
	v, exists := m[key]
	if !exists {
		return 0, false, false
	}
	num, isNum := v.(json.Number)
	if !isNum {
		c.add(prop, "O campo "+prop+" deve ser um número inteiro.", v)
		return 0, true, false
	}
	i, err := num.Int64()
	if err != nil || i < math.MinInt32 || i > math.MaxInt32 {
		c.add(prop, "O campo "+prop+" deve ser um número inteiro de 32 bits.", v)
		return 0, true, false
	}
	return int(i), true, true
}

// cobInput is a parsed PUT or PATCH /cob body: nil members were absent.
type cobInput struct {
	Expiracao      *int
	Devedor        *devedor
	AmountCents    *int64
	Modalidade     *int
	Chave          *string
	Solicitacao    *string
	InfoAdicionais *[]infoAdicional
	Status         *string
	members        int // how many top-level members the body had
}

// parseCob validates a CobSolicitada (PUT, patch=false) or a CobRevisada (PATCH) body.
// Violations name properties the way the spec's examples do ("cob.valor.original").
func parseCob(m map[string]any, patch bool, receiverKey string) (cobInput, []violacao) {
	var c checker
	var in cobInput
	in.members = len(m)
	known := []string{"calendario", "devedor", "loc", "valor", "chave", "solicitacaoPagador", "infoAdicionais"}
	if patch {
		known = append(known, "status")
	}
	c.unknown(m, "cob", known...)

	if cal, present := c.object(m, "calendario", "cob.calendario"); cal != nil {
		c.unknown(cal, "cob.calendario", "expiracao")
		if n, _, ok := c.integer(cal, "expiracao", "cob.calendario.expiracao"); ok {
			if n <= 0 {
				c.add("cob.calendario.expiracao", "O campo cob.calendario.expiracao é igual ou menor que zero.", cal["expiracao"])
			} else {
				in.Expiracao = &n
			}
		}
	} else if !present && !patch {
		c.add("cob.calendario", "O campo cob.calendario é obrigatório.", nil)
	}

	if dev, _ := c.object(m, "devedor", "cob.devedor"); dev != nil {
		c.unknown(dev, "cob.devedor", "cpf", "cnpj", "nome")
		d := &devedor{}
		cpf, hasCPF, okCPF := c.str(dev, "cpf", "cob.devedor.cpf", 0)
		cnpj, hasCNPJ, okCNPJ := c.str(dev, "cnpj", "cob.devedor.cnpj", 0)
		nome, hasNome, okNome := c.str(dev, "nome", "cob.devedor.nome", 200)
		switch {
		case hasCPF && hasCNPJ:
			c.add("cob.devedor", "O objeto cob.devedor não respeita o schema: cpf e cnpj não podem estar preenchidos ao mesmo tempo.", dev)
		case !hasCPF && !hasCNPJ:
			c.add("cob.devedor", "O objeto cob.devedor não respeita o schema: informe cpf ou cnpj.", dev)
		case okCPF && !validCPF(cpf):
			c.add("cob.devedor.cpf", "O campo cob.devedor.cpf não é um CPF válido.", cpf)
		case okCNPJ && !validCNPJ(cnpj):
			c.add("cob.devedor.cnpj", "O campo cob.devedor.cnpj não é um CNPJ válido.", cnpj)
		}
		if !hasNome {
			c.add("cob.devedor.nome", "O campo cob.devedor.nome é obrigatório.", nil)
		} else if okNome && strings.TrimSpace(nome) == "" {
			c.add("cob.devedor.nome", "O campo cob.devedor.nome está vazio.", nome)
		}
		d.CPF, d.CNPJ, d.Nome = cpf, cnpj, nome
		in.Devedor = d
	}

	if _, present := m["loc"]; present {
		c.add("cob.loc.id", "O location referenciado por cob.loc.id inexiste (este PSP cria a location com a cobrança).", m["loc"])
	}

	if val, present := c.object(m, "valor", "cob.valor"); val != nil {
		c.unknown(val, "cob.valor", "original", "modalidadeAlteracao", "retirada")
		if orig, present, ok := c.str(val, "original", "cob.valor.original", 0); ok {
			cents, good := parseMoney(orig)
			switch {
			case !good:
				c.add("cob.valor.original", "O campo cob.valor.original não respeita o schema.", orig)
			case cents == 0:
				c.add("cob.valor.original", "O campo cob.valor.original é zero.", orig)
			default:
				in.AmountCents = &cents
			}
		} else if !present && !patch {
			c.add("cob.valor.original", "O campo cob.valor.original é obrigatório.", nil)
		}
		if n, _, ok := c.integer(val, "modalidadeAlteracao", "cob.valor.modalidadeAlteracao"); ok {
			if n != 0 && n != 1 {
				c.add("cob.valor.modalidadeAlteracao", "O campo cob.valor.modalidadeAlteracao deve ser 0 ou 1.", val["modalidadeAlteracao"])
			} else {
				in.Modalidade = &n
			}
		}
		if _, present := val["retirada"]; present {
			c.add("cob.valor.retirada", "Pix Saque e Pix Troco não são oferecidos por este PSP.", val["retirada"])
		}
	} else if !present && !patch {
		c.add("cob.valor", "O campo cob.valor é obrigatório.", nil)
	}

	if key, present, ok := c.str(m, "chave", "cob.chave", 77); ok {
		if key != receiverKey {
			c.add("cob.chave", "O campo cob.chave corresponde a uma conta que não pertence a este usuário recebedor.", key)
		} else {
			in.Chave = &key
		}
	} else if !present && !patch {
		c.add("cob.chave", "O campo cob.chave é obrigatório.", nil)
	}

	if s, _, ok := c.str(m, "solicitacaoPagador", "cob.solicitacaoPagador", 140); ok {
		in.Solicitacao = &s
	}

	if v, present := m["infoAdicionais"]; present {
		arr, isArr := v.([]any)
		switch {
		case !isArr:
			c.add("cob.infoAdicionais", "O campo cob.infoAdicionais deve ser uma lista.", v)
		case len(arr) > 50:
			c.add("cob.infoAdicionais", "O objeto cob.infoAdicionais não respeita o schema: no máximo 50 itens.", fmt.Sprint(len(arr)))
		default:
			infos := []infoAdicional{}
			for i, e := range arr {
				p := fmt.Sprintf("cob.infoAdicionais[%d]", i)
				o, isObj := e.(map[string]any)
				if !isObj {
					c.add(p, "Cada item de cob.infoAdicionais deve ser um objeto {nome, valor}.", e)
					continue
				}
				c.unknown(o, p, "nome", "valor")
				nome, hasNome, okNome := c.str(o, "nome", p+".nome", 50)
				valor, hasValor, okValor := c.str(o, "valor", p+".valor", 200)
				if !hasNome {
					c.add(p+".nome", "O campo "+p+".nome é obrigatório.", nil)
				}
				if !hasValor {
					c.add(p+".valor", "O campo "+p+".valor é obrigatório.", nil)
				}
				if okNome && okValor {
					infos = append(infos, infoAdicional{Nome: nome, Valor: valor})
				}
			}
			in.InfoAdicionais = &infos
		}
	}

	if patch {
		if st, _, ok := c.str(m, "status", "cob.status", 0); ok {
			if st != statusRemovida {
				c.add("cob.status", "O campo cob.status não respeita o schema: só pode ser REMOVIDA_PELO_USUARIO_RECEBEDOR.", st)
			} else {
				in.Status = &st
				if len(m) > 1 {
					c.add("cob.status", "A cobrança não pode ser removida juntamente com outras alterações.", st)
				}
			}
		}
	}
	return in, c.v
}

// fields builds a new charge's revision 0 from a validated PUT body.
func (in cobInput) fields() cobFields {
	f := cobFields{Status: statusAtiva, Expiracao: defaultExpiracao}
	in.apply(&f)
	return f
}

// apply writes the members present in the body over f.
func (in cobInput) apply(f *cobFields) {
	if in.Expiracao != nil {
		f.Expiracao = *in.Expiracao
	}
	if in.Devedor != nil {
		d := *in.Devedor
		f.Devedor = &d
	}
	if in.AmountCents != nil {
		f.AmountCents = *in.AmountCents
	}
	if in.Modalidade != nil {
		f.Modalidade = *in.Modalidade
	}
	if in.Chave != nil {
		f.Chave = *in.Chave
	}
	if in.Solicitacao != nil {
		f.Solicitacao = *in.Solicitacao
	}
	if in.InfoAdicionais != nil {
		f.InfoAdicionais = slices.Clone(*in.InfoAdicionais)
		if len(f.InfoAdicionais) == 0 {
			f.InfoAdicionais = nil
		}
	}
	if in.Status != nil {
		f.Status = *in.Status
	}
}

// refundInput is a parsed DevolucaoSolicitada.
type refundInput struct {
	AmountCents int64
	Natureza    string
	Descricao   string
}

func parseRefund(m map[string]any) (refundInput, []violacao) {
	var c checker
	var in refundInput
	c.unknown(m, "devolucao", "valor", "natureza", "descricao")
	if v, present, ok := c.str(m, "valor", "devolucao.valor", 0); ok {
		cents, good := parseMoney(v)
		switch {
		case !good:
			c.add("devolucao.valor", "O campo devolucao.valor não respeita o schema.", v)
		case cents == 0:
			c.add("devolucao.valor", "O campo devolucao.valor é zero.", v)
		default:
			in.AmountCents = cents
		}
	} else if !present {
		c.add("devolucao.valor", "O campo devolucao.valor é obrigatório.", nil)
	}
	if n, _, ok := c.str(m, "natureza", "devolucao.natureza", 0); ok {
		switch n {
		case "ORIGINAL":
			in.Natureza = n
		case "RETIRADA":
			c.add("devolucao.natureza", "A natureza RETIRADA só se aplica a Pix Saque ou Pix Troco.", n)
		default:
			c.add("devolucao.natureza", "O campo devolucao.natureza não respeita o schema (ORIGINAL ou RETIRADA).", n)
		}
	}
	if d, _, ok := c.str(m, "descricao", "devolucao.descricao", 140); ok {
		in.Descricao = d
	}
	return in, c.v
}

func parseWebhook(m map[string]any) (string, []violacao) {
	var c checker
	c.unknown(m, "webhook", "webhookUrl")
	u, present, ok := c.str(m, "webhookUrl", "webhook.webhookUrl", 2048)
	switch {
	case !present:
		c.add("webhook.webhookUrl", "O campo webhook.webhookUrl é obrigatório.", nil)
	case ok:
		p, err := url.Parse(u)
		if err != nil || p.Scheme != "https" || p.Host == "" || p.User != nil {
			c.add("webhook.webhookUrl", "O campo webhook.webhookUrl não respeita o schema: deve ser uma URL https:// absoluta.", u)
		}
	}
	return u, c.v
}

// validCPF checks the format and the two check digits.
func validCPF(s string) bool {
	if !cpfRe.MatchString(s) || strings.Count(s, s[:1]) == len(s) {
		return false
	}
	dv := func(n int) int {
		sum := 0
		for i := 0; i < n; i++ {
			sum += int(s[i]-'0') * (n + 1 - i)
		}
		d := sum * 10 % 11
		if d == 10 {
			d = 0
		}
		return d
	}
	return dv(9) == int(s[9]-'0') && dv(10) == int(s[10]-'0')
}

// validCNPJ checks the format (alphanumeric root, as from July 2026) and the two numeric check
// digits: each character counts as its ASCII code minus 48.
func validCNPJ(s string) bool {
	if !cnpjRe.MatchString(s) || s[12] < '0' || s[12] > '9' || s[13] < '0' || s[13] > '9' ||
		strings.Count(s, s[:1]) == len(s) {
		return false
	}
	dv := func(n int) int {
		sum, w := 0, 2
		for i := n - 1; i >= 0; i-- {
			sum += int(s[i]-'0') * w
			if w++; w > 9 {
				w = 2
			}
		}
		if r := sum % 11; r >= 2 {
			return 11 - r
		}
		return 0
	}
	return dv(12) == int(s[12]-'0') && dv(13) == int(s[13]-'0')
}
