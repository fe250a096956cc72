package payment

import (
	"errors"
	"fmt"
)

// Error is a failure with a stable code that crosses the API (`printer.paper_out`,
// `pix.psp_unavailable`, `tef.declined`, `session.not_found`) and a message for a person in
// pt-BR. Kind tells the API layer which HTTP status fits.
type Error struct {
	Code    string
	Message string
	Kind    Kind
	Err     error // the cause, for logs; never shown to the customer
}

// Kind classifies an Error for transport.
type Kind int

// Error kinds.
const (
	KindInternal    Kind = iota // a bug or a storage failure: 500
	KindInvalid                 // the request is wrong: 400
	KindNotFound                // 404
	KindConflict                // the session is not in a state that allows it: 409
	KindUnavailable             // a device or the PSP cannot do it now: 503
)

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errf builds an *Error.
func Errf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Code: code, Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error, wrapping unknown errors as internal ones.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: "internal", Kind: KindInternal, Message: "Erro interno. Chame o atendente.", Err: err}
}

// ProblemOf returns the code and message of err for storing in a session.
func ProblemOf(err error) *Problem {
	e := AsError(err)
	return &Problem{Code: e.Code, Message: e.Message}
}
