// Package printer is the printer service: it owns the link to the ESC/POS printer, keeps every
// job in the journal (a ticket can always be reprinted), reads the printer's real status while
// idle (DLE EOT) and raises health conditions from it, refuses a job up front when there is no
// paper or the cover is open, paces writes on slow serial lines (XON/XOFF too), and checks after
// the cut that the job really went through (GS r 1), so "printed" means printed.
package printer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"time"

	"github.com/totemd/totemd/device"
	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/printer/escpos"
	"github.com/totemd/totemd/printer/profile"
	"github.com/totemd/totemd/printer/ticket"
	"github.com/totemd/totemd/sync/journal"
)

// BucketJobs is the journal bucket of print jobs.
const BucketJobs = "print_jobs"

// Job is one thing sent to the printer.
type Job struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"` // ticket, receipt, test
	SessionID string    `json:"session_id,omitempty"`
	Ticket    string    `json:"ticket,omitempty"`
	Bytes     []byte    `json:"bytes"`
	State     string    `json:"state"` // queued, printing, printed, failed
	Attempts  int       `json:"attempts"`
	Error     string    `json:"error,omitempty"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
}

// Job states.
const (
	JobQueued   = "queued"
	JobPrinting = "printing"
	JobPrinted  = "printed"
	JobFailed   = "failed"
)

// Options wires a Service.
type Options struct {
	Config Config
	Store  *journal.Store
	Health *device.Health
	// Open opens the link; default device.Open.
	Open   func(ctx context.Context, uri string) (device.Link, error)
	Now    func() time.Time
	Logger *slog.Logger
}

// Service drives one printer.
type Service struct {
	cfg    Config
	prof   profile.Profile
	logo   image.Image
	store  *journal.Store
	health *device.Health
	open   func(ctx context.Context, uri string) (device.Link, error)
	now    func() time.Time
	log    *slog.Logger

	reqs   chan request
	looked chan struct{} // closed once the first attempt to open the link (and read its status) is over
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	status   escpos.Status
	statusOK bool      // status was read and is recent
	statusAt time.Time // when
	linkErr  error     // why the link is down, or nil
	canRead  bool

	// owned by the run goroutine
	link    device.Link
	frames  chan escpos.Frame
	backoff int
	xoff    bool // the printer said XOFF and has not said XON yet
}

type request struct {
	job  *Job // nil: a status read (Refresh)
	done chan error
}

// New returns a Service; Start begins polling.
func New(o Options) (*Service, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	prof, err := profile.Get(o.Config.Profile)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: o.Config, prof: prof, store: o.Store, health: o.Health, open: o.Open, now: o.Now, log: o.Logger,
		reqs: make(chan request), looked: make(chan struct{})}
	if s.open == nil {
		s.open = device.Open
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.health == nil {
		s.health = device.NewHealth(nil)
	}
	if o.Config.Ticket.Logo != "" {
		if s.logo, err = ticket.LoadLogo(o.Config.Ticket.Logo); err != nil {
			return nil, err
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Profile returns the printer model in use.
func (s *Service) Profile() profile.Profile { return s.prof }

// Start marks jobs a crash interrupted and starts the owner of the link.
func (s *Service) Start() error {
	if s.store != nil {
		if err := s.interrupted(); err != nil {
			return err
		}
	}
	s.wg.Go(s.run)
	return nil
}

// Close stops the service and closes the link.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

// Ready implements payment.TicketPrinter from the last status read: nil when a ticket can be
// printed now. It never talks to the printer; only just after Start does it wait (at most as
// long as opening the link and one status read may take, or until ctx is done) for the first
// look at the printer, so that a kiosk that just booted neither refuses a payment for a status
// it has not read yet nor accepts one for a printer it has not found.
func (s *Service) Ready(ctx context.Context) error {
	select {
	case <-s.looked:
	case <-ctx.Done():
		return payment.Errf(payment.KindUnavailable, "printer.offline", "Impressora ainda não respondeu")
	case <-s.ctx.Done():
		return payment.Errf(payment.KindUnavailable, "service.stopping", "O totem está reiniciando.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.linkErr != nil {
		return payment.Errf(payment.KindUnavailable, "printer.offline", "Impressora desconectada")
	}
	if !s.canRead {
		return nil // write-only link: status unavailable, never invented
	}
	if !s.statusOK || s.now().Sub(s.statusAt) > 3*s.cfg.PollInterval+s.cfg.StatusTimeout*4 {
		return payment.Errf(payment.KindUnavailable, "printer.offline", "Impressora não responde")
	}
	return problem(s.status)
}

// Status returns the last status read and whether it is known.
func (s *Service) Status() (escpos.Status, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status, s.statusOK && s.canRead, s.linkErr
}

// problem maps a status to the refusal a job gets, or nil.
func problem(st escpos.Status) error {
	switch {
	case st.Known&escpos.KnownPaperEnd != 0 && st.PaperEnd:
		return payment.Errf(payment.KindUnavailable, "printer.paper_out", "Impressora sem papel")
	case st.Known&escpos.KnownCover != 0 && st.CoverOpen:
		return payment.Errf(payment.KindUnavailable, "printer.cover_open", "Tampa da impressora aberta")
	case st.Known&escpos.KnownCutter != 0 && st.CutterError:
		return payment.Errf(payment.KindUnavailable, "printer.cutter_error", "Erro na guilhotina da impressora")
	case st.Known&escpos.KnownUnrecoverable != 0 && st.Unrecoverable:
		return payment.Errf(payment.KindUnavailable, "printer.error", "Erro irrecuperável na impressora: desligue e ligue")
	case st.Known&escpos.KnownError != 0 && st.Error:
		return payment.Errf(payment.KindUnavailable, "printer.error", "Impressora em erro")
	case st.Known&escpos.KnownOnline != 0 && !st.Online:
		return payment.Errf(payment.KindUnavailable, "printer.offline", "Impressora fora de linha")
	}
	return nil
}

// PrintTicket implements payment.TicketPrinter: lays the ticket out, keeps the job, prints it
// and returns nil only when the end-of-job check passed.
func (s *Service) PrintTicket(ctx context.Context, t payment.Ticket) error {
	data, err := ticket.Customer(s.prof, s.cfg.Ticket, t, s.logo)
	if err != nil {
		return fmt.Errorf("laying out ticket %s: %w", t.Number, err)
	}
	return s.Print(ctx, &Job{Kind: "ticket", SessionID: t.SessionID, Ticket: t.Number, Bytes: data})
}

// PrintReceipt implements payment.ReceiptPrinter: a TEF receipt copy on its own (the
// merchant's copy, when the config asks for it), kept as a job like any other.
func (s *Service) PrintReceipt(ctx context.Context, sessionID, number string, lines []string, title string) error {
	data, err := ticket.Receipt(s.prof, lines, title)
	if err != nil {
		return fmt.Errorf("laying out the receipt of %s: %w", number, err)
	}
	return s.Print(ctx, &Job{Kind: "receipt", SessionID: sessionID, Ticket: number, Bytes: data})
}

// Print keeps a job in the journal and prints it.
func (s *Service) Print(ctx context.Context, j *Job) error {
	now := s.now().UTC()
	if j.ID == "" {
		j.ID = payment.NewID(now)
	}
	j.State, j.Created, j.Updated = JobQueued, now, now
	if err := s.save(j); err != nil {
		return err
	}
	return s.submit(ctx, request{job: j, done: make(chan error, 1)})
}

// Reprint prints a kept job again.
func (s *Service) Reprint(ctx context.Context, id string) error {
	j, err := s.Job(id)
	if err != nil {
		return err
	}
	return s.submit(ctx, request{job: j, done: make(chan error, 1)})
}

// Refresh reads the status now (for the CLI and tests).
func (s *Service) Refresh(ctx context.Context) error {
	return s.submit(ctx, request{done: make(chan error, 1)})
}

func (s *Service) submit(ctx context.Context, r request) error {
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return payment.Errf(payment.KindUnavailable, "service.stopping", "O totem está reiniciando.")
	}
	select {
	case err := <-r.done:
		return err
	case <-s.ctx.Done():
		return payment.Errf(payment.KindUnavailable, "service.stopping", "O totem está reiniciando.")
	}
}

// run owns the link: it opens it (with backoff after a failure), polls the status while idle,
// and runs requests one at a time.
func (s *Service) run() {
	defer s.closeLink()
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	var retry <-chan time.Time
	s.connect()
	close(s.looked)
	for {
		if s.link == nil && retry == nil {
			retry = time.After(device.Backoff{}.Next(s.backoff))
		}
		select {
		case <-s.ctx.Done():
			return
		case <-retry:
			retry = nil
			if s.link == nil { // a request may have reconnected meanwhile
				s.connect()
			}
		case r := <-s.reqs:
			if s.link == nil {
				s.connect()
			}
			var err error
			switch {
			case s.link == nil:
				err = payment.Errf(payment.KindUnavailable, "printer.offline", "Impressora desconectada")
				if r.job != nil {
					s.finish(r.job, err)
				}
			case r.job != nil:
				err = s.printJob(r.job)
			default:
				err = s.poll()
			}
			r.done <- err
		case <-poll.C:
			if s.link != nil {
				_ = s.poll()
			}
		}
	}
}

// connect opens the link and starts its reader.
func (s *Service) connect() {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	link, err := s.open(ctx, s.cfg.Device)
	cancel()
	if err != nil {
		s.backoff++
		s.setLink(nil, err, false)
		return
	}
	s.backoff = 0
	s.link = link
	s.frames = nil
	if link.Info().CanRead {
		s.frames = make(chan escpos.Frame, 64)
		go reader(link, s.frames) // ends when the link is closed
	}
	s.log.Info("printer connected", "device", s.cfg.Device, "profile", s.prof.Name, "status", link.Info().CanRead)
	// The status is read before the link is published: Ready never sees a readable link whose
	// status was not asked yet (it would refuse a payment for a printer that is fine).
	polled := s.poll()
	if s.link == nil {
		return // the first read found the link broken; broken recorded why
	}
	s.setLink(link, nil, polled == nil)
}

// reader feeds what the printer sends into frames; it closes frames when the link fails.
func reader(link device.Link, frames chan<- escpos.Frame) {
	defer close(frames)
	var sp escpos.Splitter
	buf := make([]byte, 256)
	for {
		_ = link.SetReadDeadline(time.Time{})
		n, err := link.Read(buf)
		for _, f := range sp.Feed(buf[:n]) {
			frames <- f
		}
		if err != nil {
			return
		}
	}
}

func (s *Service) closeLink() {
	if s.link != nil {
		_ = s.link.Close()
		if s.frames != nil {
			for range s.frames { // drain until the reader ends
			}
		}
		s.link, s.frames = nil, nil
	}
}

// broken drops a link that failed and records why.
func (s *Service) broken(err error) {
	s.log.Warn("printer link lost", "device", s.cfg.Device, "err", err)
	s.closeLink()
	s.setLink(nil, err, false)
}

// setLink publishes the link's state: down with err, or up (answered: its status read
// succeeded or it has none to read, so a "does not answer" condition may be cleared).
func (s *Service) setLink(link device.Link, err error, answered bool) {
	readable := link != nil && link.Info().CanRead && s.prof.Status == "escpos"
	s.mu.Lock()
	s.linkErr = err
	s.canRead = readable
	if err != nil {
		s.statusOK = false
	}
	s.mu.Unlock()
	if err != nil {
		s.health.Set("printer.offline", device.Critical, "Impressora desconectada ou desligada: pagamentos suspensos.")
		return
	}
	if answered || !readable {
		s.health.Clear("printer.offline")
	}
	switch {
	case !link.Info().CanRead:
		s.health.Set("printer.status_unavailable", device.Info, "Status da impressora indisponível nesta conexão (somente escrita).")
	case !readable:
		s.health.Set("printer.status_unavailable", device.Info, "Status da impressora indisponível: o perfil "+s.prof.Name+" não lê status.")
	default:
		s.health.Clear("printer.status_unavailable")
	}
}

// ask sends a status request and waits for its one-byte answer, skipping ASB packets (whose
// status is merged) and flow-control bytes.
func (s *Service) ask(req []byte, timeout time.Duration) (byte, error) {
	// An answer that came too late for an earlier request must never be taken for this one.
	if err := s.drain(); err != nil {
		return 0, err
	}
	var err error
	if len(req) == 3 && req[0] == 0x10 && req[1] == 0x04 {
		// DLE EOT is real-time: the printer answers it even while it refuses data (XOFF),
		// which is how a paused printer says why.
		_ = s.link.SetWriteDeadline(time.Now().Add(timeout))
		_, err = s.link.Write(req)
	} else {
		err = s.write(req, timeout)
	}
	if err != nil {
		return 0, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				return 0, errors.New("printer link closed")
			}
			if f.Kind == escpos.FrameByte {
				return f.Bytes[0], nil
			}
			s.note(f)
		case <-t.C:
			return 0, errNoAnswer
		case <-s.ctx.Done():
			return 0, s.ctx.Err()
		}
	}
}

var errNoAnswer = errors.New("the printer did not answer")

// drain discards what is waiting on the status channel (late answers), merging ASB packets.
func (s *Service) drain() error {
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				return errors.New("printer link closed")
			}
			s.note(f)
		default:
			return nil
		}
	}
}

// note takes what a frame that is not an answer says: flow control and status packets.
func (s *Service) note(f escpos.Frame) {
	switch f.Kind {
	case escpos.FrameXOFF:
		s.xoff = true
	case escpos.FrameXON:
		s.xoff = false
	case escpos.FrameASB:
		if st, err := escpos.DecodeASB(f.Bytes); err == nil {
			s.merge(st)
		}
	}
}

// errPaused is a job the printer held with XOFF for longer than the job may take.
var errPaused = errors.New("the printer asked to wait (XOFF) and did not resume (XON) in time")

// poll reads DLE EOT 1-4 and updates the status and the health conditions.
func (s *Service) poll() error {
	if s.link == nil || s.frames == nil || s.prof.Status != "escpos" {
		return nil
	}
	st := escpos.Status{}
	for n := 1; n <= 4; n++ {
		b, err := s.ask([]byte{0x10, 0x04, byte(n)}, s.cfg.StatusTimeout)
		if errors.Is(err, errNoAnswer) {
			s.mu.Lock()
			s.statusOK = false
			s.mu.Unlock()
			s.health.Set("printer.offline", device.Critical, "Impressora não responde: verifique se está ligada.")
			return payment.Errf(payment.KindUnavailable, "printer.offline", "Impressora não responde")
		}
		if err != nil {
			s.broken(err)
			return payment.Errf(payment.KindUnavailable, "printer.offline", "Impressora desconectada")
		}
		part, err := escpos.DecodeDLEEOT(n, b)
		if err != nil {
			s.log.Warn("printer status byte not understood", "n", n, "byte", b, "err", err)
			continue
		}
		st = st.Merge(part)
	}
	s.mu.Lock()
	s.status, s.statusOK, s.statusAt = st, true, s.now()
	s.mu.Unlock()
	s.healthFrom(st)
	return nil
}

func (s *Service) merge(st escpos.Status) {
	s.mu.Lock()
	s.status = s.status.Merge(st)
	cur := s.status
	s.mu.Unlock()
	s.healthFrom(cur)
}

// healthFrom raises or clears the printer's conditions.
func (s *Service) healthFrom(st escpos.Status) {
	set := func(name string, on bool, sev device.Severity, msg string) {
		if on {
			s.health.Set(name, sev, msg)
		} else {
			s.health.Clear(name)
		}
	}
	s.health.Clear("printer.offline")
	set("printer.paper_out", st.PaperEnd, device.Critical, "Impressora sem papel: pagamentos suspensos até a troca da bobina.")
	set("printer.paper_near_end", st.PaperNearEnd && !st.PaperEnd, device.Warning, "Papel da impressora no fim: troque a bobina em breve.")
	set("printer.cover_open", st.CoverOpen, device.Critical, "Tampa da impressora aberta.")
	set("printer.cutter_error", st.CutterError, device.Critical, "Erro na guilhotina da impressora.")
	set("printer.error", st.Unrecoverable || (st.Error && !st.PaperEnd && !st.CoverOpen && !st.CutterError), device.Critical,
		"Impressora em erro: desligue e ligue a impressora.")
}

// write sends data with pacing: on serial lines it never runs ahead of the line rate (a
// printer's receive buffer is small and a tty's grows without bound), sleeping only as much as
// the writes ran ahead; it pauses on XOFF until XON (software flow control).
func (s *Service) write(data []byte, timeout time.Duration) error {
	return s.writeUntil(data, time.Now().Add(timeout))
}

// writeUntil is write with an absolute deadline (wall clock: it bounds I/O).
func (s *Service) writeUntil(data []byte, deadline time.Time) error {
	info := s.link.Info()
	chunk := len(data)
	var perByte time.Duration
	if info.Kind == "serial" && info.BaudRate > 0 {
		chunk = max(16, info.BaudRate/10/20) // ~50 ms of line time
		perByte = 10 * time.Second / time.Duration(info.BaudRate)
	}
	start := time.Now()
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		if info.Flow == "xonxoff" {
			if err := s.waitXON(deadline); err != nil {
				return err
			}
		}
		if err := s.ctx.Err(); err != nil {
			return fmt.Errorf("printer service stopping: %w", err)
		}
		_ = s.link.SetWriteDeadline(deadline)
		if _, err := s.link.Write(data[off:end]); err != nil {
			return fmt.Errorf("writing to the printer: %w", err)
		}
		if perByte > 0 && end < len(data) {
			if ahead := time.Until(start.Add(time.Duration(end) * perByte)); ahead > 0 {
				time.Sleep(ahead)
			}
		}
	}
	return nil
}

// waitXON returns at once unless the printer said XOFF (now or earlier); then it waits for XON.
func (s *Service) waitXON(deadline time.Time) error {
	for {
		var f escpos.Frame
		var ok bool
		if s.xoff {
			select {
			case f, ok = <-s.frames:
			case <-time.After(time.Until(deadline)):
				return errPaused
			case <-s.ctx.Done():
				return s.ctx.Err()
			}
		} else {
			select {
			case f, ok = <-s.frames:
			default:
				return nil
			}
		}
		if !ok {
			return errors.New("printer link closed")
		}
		s.note(f)
	}
}

// printJob refuses the job if the printer cannot take it, sends it, and checks after the cut.
func (s *Service) printJob(j *Job) error {
	j.Attempts++
	j.State, j.Error = JobPrinting, ""
	if err := s.save(j); err != nil {
		return err
	}
	if s.frames != nil && s.prof.Status == "escpos" {
		if err := s.poll(); err != nil {
			return s.finish(j, err)
		}
		s.mu.Lock()
		st := s.status
		s.mu.Unlock()
		if err := problem(st); err != nil {
			return s.finish(j, err)
		}
	}
	deadline := time.Now().Add(s.cfg.JobTimeout) // one deadline for the whole job
	if err := s.writeUntil(j.Bytes, deadline); err != nil {
		if errors.Is(err, errPaused) {
			// The link is fine: the printer stopped taking data. Real-time status says why.
			return s.finish(j, s.stopped("A impressora pausou a impressão e não retomou"))
		}
		s.broken(err)
		return s.finish(j, payment.Errf(payment.KindUnavailable, "printer.offline", "Impressora desconectada durante a impressão"))
	}
	if s.frames == nil || s.prof.Status != "escpos" {
		return s.finish(j, nil) // write-only: written is all that can be known
	}
	// GS r 1 is answered when the buffer reaches it: after the cut, the job went through.
	b, err := s.ask([]byte{0x1d, 0x72, 0x01}, max(time.Until(deadline), s.cfg.StatusTimeout))
	if err == nil {
		if _, derr := escpos.DecodeGSr1(b); derr != nil {
			// Not the answer to GS r 1: nothing proves the job went through.
			s.log.Warn("end-of-job answer not understood", "byte", b, "err", derr)
			return s.finish(j, payment.Errf(payment.KindUnavailable, "printer.incomplete", "A impressora não confirmou o fim do ticket"))
		}
		// Answered: the buffer reached the cut, the ticket printed. Paper that ran out just
		// after it shows in the status (a health condition), not as a failed ticket.
		_ = s.poll()
		return s.finish(j, nil)
	}
	if !errors.Is(err, errNoAnswer) {
		s.broken(err)
		return s.finish(j, payment.Errf(payment.KindUnavailable, "printer.offline", "Impressora desconectada durante a impressão"))
	}
	// No answer: the printer stopped in the middle.
	return s.finish(j, s.stopped("A impressora não confirmou o fim do ticket"))
}

// stopped explains a job the printer stopped in the middle, from its real-time status (DLE EOT
// is answered even by a printer that stopped taking data).
func (s *Service) stopped(otherwise string) error {
	_ = s.poll()
	s.mu.Lock()
	st := s.status
	s.mu.Unlock()
	if perr := problem(st); perr != nil {
		e := payment.AsError(perr)
		return payment.Errf(payment.KindUnavailable, e.Code, "%s durante a impressão", e.Message)
	}
	return payment.Errf(payment.KindUnavailable, "printer.incomplete", "%s", otherwise)
}

// finish records the job's outcome and returns err.
func (s *Service) finish(j *Job, err error) error {
	j.Updated = s.now().UTC()
	if err == nil {
		j.State = JobPrinted
	} else {
		j.State, j.Error = JobFailed, payment.AsError(err).Code
		s.log.Warn("print job failed", "job", j.ID, "ticket", j.Ticket, "err", err)
	}
	if serr := s.save(j); serr != nil && err == nil {
		return serr
	}
	return err
}

func (s *Service) save(j *Job) error {
	if s.store == nil {
		return nil
	}
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	_, err = s.store.Update(func(tx *journal.Tx) error { return tx.Put(BucketJobs, j.ID, data) })
	return err
}

// Job returns a kept job.
func (s *Service) Job(id string) (*Job, error) {
	var j *Job
	err := s.store.View(func(tx *journal.Tx) error {
		v := tx.Get(BucketJobs, id)
		if v == nil {
			return payment.Errf(payment.KindNotFound, "printer.job_not_found", "Trabalho de impressão %q não existe.", id)
		}
		j = &Job{}
		return json.Unmarshal(v, j)
	})
	return j, err
}

// Jobs lists kept jobs, newest first.
func (s *Service) Jobs(limit int) ([]*Job, error) {
	var out []*Job
	err := s.store.View(func(tx *journal.Tx) error {
		return tx.ForEachReverse(BucketJobs, func(_ string, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return err
			}
			out = append(out, &j)
			if len(out) >= limit {
				return journal.Stop
			}
			return nil
		})
	})
	return out, err
}

// interrupted marks jobs a crash left queued or printing as failed (the payment flow reprints
// the ticket of any paid session not fulfilled), and drops finished jobs older than KeepJobs.
func (s *Service) interrupted() error {
	cut := s.now().Add(-s.cfg.KeepJobs)
	_, err := s.store.Update(func(tx *journal.Tx) error {
		var fix, drop []string
		var fixed [][]byte
		err := tx.ForEach(BucketJobs, func(k string, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return err
			}
			switch {
			case j.State == JobQueued || j.State == JobPrinting:
				j.State, j.Error = JobFailed, "printer.interrupted"
				b, _ := json.Marshal(j)
				fix, fixed = append(fix, k), append(fixed, b)
			case j.Updated.Before(cut):
				drop = append(drop, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, k := range fix {
			if err := tx.Put(BucketJobs, k, fixed[i]); err != nil {
				return err
			}
		}
		for _, k := range drop {
			if err := tx.Delete(BucketJobs, k); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

// TicketPrinted implements payment.TicketPrinter: whether a ticket job of the session reached
// "printed" (the end-of-job check passed). Jobs are read newest first.
func (s *Service) TicketPrinted(_ context.Context, sessionID string) (bool, error) {
	printed := false
	err := s.store.View(func(tx *journal.Tx) error {
		return tx.ForEachReverse(BucketJobs, func(_ string, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return err
			}
			if j.Kind == "ticket" && j.SessionID == sessionID && j.State == JobPrinted {
				printed = true
				return journal.Stop
			}
			return nil
		})
	})
	return printed, err
}
