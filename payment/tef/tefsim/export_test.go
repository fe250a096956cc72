package tefsim

// Polls returns how many times the file poller has looked at REQ.
func Polls(s *Sim) int64 { return s.polls.Load() }
