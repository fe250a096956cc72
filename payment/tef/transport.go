package tef

import (
	"context"
	"errors"
	"log/slog"
)

// Errors of the client. They come wrapped with the details: test them with errors.Is.
var (
	// ErrNoStatus: the GP did not acknowledge the request within Config.StatusTimeout, or
	// could not be reached at all ("TEF não responde"). A health condition: the request was
	// most likely not run (a sale it still runs shows up as pending on the next one).
	ErrNoStatus = errors.New("tef: the TEF manager does not answer (TEF não responde)")
	// ErrConnectionLost: the TCP connection dropped after the status and before the response.
	// The outcome is unknown: treat the transaction as pending.
	ErrConnectionLost = errors.New("tef: connection to the TEF manager lost before the response")
	// ErrClosed: the client is closed.
	ErrClosed = errors.New("tef: client closed")
)

// transport carries one exchange at a time (the client serializes them).
type transport interface {
	// send delivers an encoded request and returns the exchange that reads its answers. An
	// error means the request did not reach the GP.
	send(ctx context.Context, raw []byte) (exchange, error)
	name() string
}

// Which message an exchange waits for.
type phase int

const (
	phaseStatus phase = iota
	phaseResponse
)

// exchange reads the answers of one request.
type exchange interface {
	// next returns the next complete message of the phase (over TCP, simply the next message
	// on the connection). Messages that do not parse are logged and dropped inside. It returns
	// ctx's error when ctx ends, ErrConnectionLost (wrapped) when the peer is gone.
	next(ctx context.Context, p phase, log *slog.Logger) (*Message, error)
	// abandon is called when the status never came: the request must not run later.
	abandon()
	close()
}
