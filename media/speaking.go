package media

import (
	"sync"
	"time"
)

// Speaking detection from RFC 6464 audio levels (0 = loudest, 127 =
// silence, in -dBov).
const (
	speakLevel   = 50                     // louder than -50 dBov counts as voice
	speakOnAfter = 200 * time.Millisecond // voice this long → speaking
	speakGap     = 150 * time.Millisecond // a quieter gap this long ends a run of voice
	speakOffAt   = time.Second            // quiet this long → not speaking
)

// speech is the speaking state of one peer, fed by the levels of the
// audio it publishes. report is called with mu held, so reports are
// ordered.
type speech struct {
	mu        sync.Mutex
	speaking  bool
	runStart  time.Time // start of the current run of voice, zero if none
	lastVoice time.Time
	report    func(bool)
}

func (s *speech) observe(now time.Time, level uint8) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if level <= speakLevel {
		if s.runStart.IsZero() || now.Sub(s.lastVoice) > speakGap {
			s.runStart = now
		}
		s.lastVoice = now
		if !s.speaking && now.Sub(s.runStart) >= speakOnAfter {
			s.set(true)
		}
		return
	}
	s.checkLocked(now)
}

// check ends speaking after a long enough silence (also when no packet
// arrives at all, e.g. with DTX).
func (s *speech) check(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkLocked(now)
}

func (s *speech) checkLocked(now time.Time) {
	if now.Sub(s.lastVoice) > speakGap {
		s.runStart = time.Time{}
	}
	if s.speaking && now.Sub(s.lastVoice) >= speakOffAt {
		s.set(false)
	}
}

func (s *speech) set(v bool) {
	s.speaking = v
	if s.report != nil {
		s.report(v)
	}
}
