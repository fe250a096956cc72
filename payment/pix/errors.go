package pix

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Error is an error answer of the PSP: RFC 7807 problem details (BCB standard, with
// violacoes) or Efí's {nome, mensagem}. Status is the HTTP status.
type Error struct {
	Op        string        `json:"-"` // "PUT /cob/{txid}"
	Status    int           `json:"-"`
	Type      string        `json:"type"`
	Title     string        `json:"title"`
	Detail    string        `json:"detail"`
	Violacoes []Violacao    `json:"violacoes"`
	Nome      string        `json:"nome"`     // Efí
	Mensagem  string        `json:"mensagem"` // Efí
	Retry     time.Duration `json:"-"`        // from Retry-After
	Body      string        `json:"-"`        // the raw body when it was neither shape (cut to 512 bytes)
}

// Violacao is one broken rule of a request, as the PSP reports it.
type Violacao struct {
	Razao       string `json:"razao"`
	Propriedade string `json:"propriedade"`
	Valor       string `json:"valor"`
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pix: %s: HTTP %d", e.Op, e.Status)
	for _, s := range []string{e.Title, e.Detail, e.Nome, e.Mensagem} {
		if s != "" {
			b.WriteString(": " + s)
		}
	}
	for _, v := range e.Violacoes {
		fmt.Fprintf(&b, "; %s: %s", v.Propriedade, v.Razao)
	}
	if e.Body != "" && e.Title == "" && e.Nome == "" {
		b.WriteString(": " + e.Body)
	}
	return b.String()
}

// RetryAfter is how long the PSP asked to wait (429, 503), or 0.
func (e *Error) RetryAfter() time.Duration { return e.Retry }

// Temporary reports whether trying again later may succeed: rate limits and server errors.
func (e *Error) Temporary() bool { return e.Status == 429 || e.Status >= 500 }

// NotFound reports a 404.
func (e *Error) NotFound() bool { return e.Status == 404 }

// decodeError reads an error answer in either dialect.
func decodeError(op string, status int, body []byte, retry time.Duration) *Error {
	e := &Error{Op: op, Status: status, Retry: retry}
	if json.Unmarshal(body, e) != nil || (e.Title == "" && e.Detail == "" && e.Nome == "" && e.Mensagem == "" && len(e.Violacoes) == 0) {
		s := strings.TrimSpace(string(body))
		if len(s) > 512 {
			s = s[:512]
		}
		e.Body = s
	}
	e.Op = op
	return e
}

// RequestError is a request refused before it left: it breaks a rule of the API.
type RequestError struct {
	Op, Field, Rule string
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("pix: %s: %s %s", e.Op, e.Field, e.Rule)
}
