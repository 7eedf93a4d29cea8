package registry

import "sync"

// Subscribers are the subscribers of a Source and the last result they
// were told. The zero value is ready to use.
type Subscribers struct {
	mu   sync.Mutex // guards the fields below
	subs map[int]*subscriber
	next int
	last ReloadEvent
}

// subscriber is one subscriber. Its mutex makes cancel wait for a call in
// progress, so that f never runs once cancel has returned.
type subscriber struct {
	mu     sync.Mutex
	f      func(ReloadEvent)
	active bool
}

// Subscribe calls f with every event passed to Notify until cancel is
// called. Once cancel has returned, f is not running and never runs
// again; f must not call cancel itself.
func (s *Subscribers) Subscribe(f func(ReloadEvent)) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs == nil {
		s.subs = map[int]*subscriber{}
	}
	id := s.next
	s.next++
	sub := &subscriber{f: f, active: true}
	s.subs[id] = sub
	return func() {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
		sub.mu.Lock()
		sub.active = false
		sub.mu.Unlock()
	}
}

// Notify passes ev to every subscriber, in the caller's goroutine. Unless
// it only reports a source's state, it becomes the last result.
func (s *Subscribers) Notify(ev ReloadEvent) {
	s.mu.Lock()
	if ev.State == nil || !ev.State.StateOnly {
		s.last = ev
	}
	subs := make([]*subscriber, 0, len(s.subs))
	for _, sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.mu.Lock()
		if sub.active {
			sub.f(ev)
		}
		sub.mu.Unlock()
	}
}

// Last returns the last result notified (a change applied, or a failed
// reload).
func (s *Subscribers) Last() ReloadEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}
