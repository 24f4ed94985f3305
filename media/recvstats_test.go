package media

import (
	"slices"
	"testing"
	"time"
)

func TestRecvStats(t *testing.T) {
	seqs := func(from, to int) []uint16 { // from..to inclusive, wrapping
		var s []uint16
		for i := from; i <= to; i++ {
			s = append(s, uint16(i))
		}
		return s
	}
	cat := func(parts ...[]uint16) []uint16 { return slices.Concat(parts...) }
	type want struct {
		ext      uint32
		lost     uint32
		fraction uint8
		nacks    [][]uint16 // the NACKs of successive feedback ticks
	}
	for _, tc := range []struct {
		name string
		in   []uint16
		want want
	}{
		{"in order", seqs(0, 9), want{ext: 9, nacks: [][]uint16{nil}}},
		{"two lost, asked for three times each", cat(seqs(0, 4), seqs(7, 9)),
			want{ext: 9, lost: 2, fraction: 2 * 256 / 10, nacks: [][]uint16{{5, 6}, {5, 6}, {5, 6}, nil}}},
		{"a late packet is no longer lost", cat(seqs(0, 4), seqs(7, 9), []uint16{5}),
			want{ext: 9, lost: 1, fraction: 256 / 10, nacks: [][]uint16{{6}}}},
		{"wrap", seqs(65530, 65539), want{ext: 65536 + 3, nacks: [][]uint16{nil}}},
		{"loss across the wrap, oldest first", cat(seqs(65530, 65534), seqs(65537, 65539)),
			want{ext: 65536 + 3, lost: 2, fraction: 2 * 256 / 10, nacks: [][]uint16{{65535, 0}}}},
		{"duplicates are not negative loss", cat(seqs(0, 9), seqs(5, 9)), want{ext: 9, nacks: [][]uint16{nil}}},
		{"a jump beyond the window asks for nothing", cat(seqs(0, 4), seqs(1000, 1002)),
			want{ext: 1002, lost: 995, fraction: 995 * 256 / 1003, nacks: [][]uint16{nil}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := recvStats{nack: true}
			now := time.Unix(1000, 0)
			for i, seq := range tc.in {
				s.observe(seq, uint32(i)*3000, now, 90000, false)
			}
			r, ok := s.report(42, now)
			if !ok {
				t.Fatal("no report")
			}
			if r.SSRC != 42 || r.LastSequenceNumber != tc.want.ext || r.TotalLost != tc.want.lost || r.FractionLost != tc.want.fraction {
				t.Errorf("report: ssrc %d, highest %d, lost %d, fraction %d; want highest %d, lost %d, fraction %d",
					r.SSRC, r.LastSequenceNumber, r.TotalLost, r.FractionLost, tc.want.ext, tc.want.lost, tc.want.fraction)
			}
			tick := now
			if got := s.nacks(tick); got != nil {
				t.Errorf("NACKs %v at once: a packet may be merely late", got)
			}
			for i, want := range tc.want.nacks {
				tick = tick.Add(feedbackInterval)
				if got := s.nacks(tick); !slices.Equal(got, want) {
					t.Errorf("tick %d: NACKs %v, want %v", i, got, want)
				}
			}
		})
	}
}

func TestRecvStatsReportsEachInterval(t *testing.T) {
	s := recvStats{}
	now := time.Unix(1000, 0)
	for seq := range uint16(10) {
		s.observe(seq, uint32(seq)*960, now, 48000, false)
	}
	if r, _ := s.report(1, now); r.FractionLost != 0 {
		t.Errorf("first interval: fraction %d, want 0", r.FractionLost)
	}
	// Half of the next ten lost: the fraction is of this interval only.
	for seq := uint16(10); seq < 20; seq += 2 {
		s.observe(seq, uint32(seq)*960, now, 48000, false)
	}
	r, _ := s.report(1, now)
	if r.FractionLost != 256*4/9 || r.TotalLost != 4 {
		t.Errorf("second interval: fraction %d, lost %d; want %d, 4", r.FractionLost, r.TotalLost, 256*4/9)
	}
	if s.missing != nil {
		t.Error("audio (nack false) keeps a list of lost packets")
	}
	var empty recvStats
	if _, ok := empty.report(1, time.Time{}); ok {
		t.Error("a report before the first packet")
	}
}

func TestRecvStatsJitter(t *testing.T) {
	// Packets 20 ms apart in RTP time arriving alternately 5 ms early and
	// late: the transit time varies by 10 ms (900 at 90 kHz); the repair
	// does not count.
	s := recvStats{}
	base := time.Unix(1000, 0)
	for i := range 200 {
		at := base.Add(time.Duration(i)*20*time.Millisecond + time.Duration(i%2*10)*time.Millisecond)
		s.observe(uint16(i), uint32(i)*1800, at, 90000, false)
	}
	j, transit, received := s.jitter, s.lastTransit, s.received
	if j < 800 || j > 950 {
		t.Errorf("jitter %.0f, want about 900", j)
	}
	// A repair 50 ms late: neither jitter nor the next packet's transit
	// time move, and it is not a packet received.
	s.observe(150, 150*1800, base.Add(200*20*time.Millisecond+50*time.Millisecond), 90000, true)
	if s.jitter != j || s.lastTransit != transit || s.received != received {
		t.Errorf("a repair changed jitter %.0f→%.0f, transit %d→%d, received %d→%d",
			j, s.jitter, transit, s.lastTransit, received, s.received)
	}
}

func TestRecvStatsRepairsAndEarlyReordering(t *testing.T) {
	now := time.Unix(1000, 0)
	s := recvStats{nack: true}
	for _, seq := range []uint16{10, 11, 14} {
		s.observe(seq, 0, now, 90000, false)
	}
	s.observe(12, 0, now, 90000, true) // repaired: asked for no more, still lost on the wire
	if got := s.nacks(now.Add(time.Second)); !slices.Equal(got, []uint16{13}) {
		t.Errorf("NACKs %v after a repair, want [13]", got)
	}
	// The two ways in delivered the stream's first packets late: before
	// the first report they move its start back.
	s.observe(8, 0, now, 90000, false)
	s.observe(9, 0, now, 90000, false)
	r, _ := s.report(1, now)
	if r.TotalLost != 2 || r.LastSequenceNumber != 14 {
		t.Errorf("lost %d, highest %d; want 2 (12 and 13), 14", r.TotalLost, r.LastSequenceNumber)
	}
	// After it, an older packet is just late.
	s.observe(7, 0, now, 90000, false)
	if r, _ := s.report(1, now); r.TotalLost != 1 {
		t.Errorf("lost %d after a late packet from before the start, want 1 (counted as received)", r.TotalLost)
	}
}

func TestRecvStatsROC(t *testing.T) {
	at := func(cycles uint32, maxSeq uint16) *recvStats {
		return &recvStats{started: true, cycles: cycles << 16, maxSeq: maxSeq}
	}
	for _, tc := range []struct {
		s    *recvStats
		seq  uint16
		want uint32
	}{
		{at(0, 100), 120, 0},
		{at(0, 65530), 3, 1},     // ahead across the wrap
		{at(0, 65530), 65500, 0}, // behind
		{at(2, 10), 65530, 1},    // behind, from before the wrap
		{at(2, 10), 20, 2},
	} {
		if got, ok := tc.s.roc(tc.seq); !ok || got != tc.want {
			t.Errorf("cycles %d, highest %d: ROC of %d is %d, want %d", tc.s.cycles>>16, tc.s.maxSeq, tc.seq, got, tc.want)
		}
	}
	var fresh recvStats
	if _, ok := fresh.roc(5); ok {
		t.Error("a ROC before the first packet")
	}
}

func TestRecvStatsLastSenderReport(t *testing.T) {
	now := time.Unix(1000, 0)
	s := recvStats{}
	s.observe(1, 0, now, 90000, false)
	if r, _ := s.report(1, now); r.LastSenderReport != 0 || r.Delay != 0 {
		t.Errorf("LSR %x, DLSR %d before any sender report, want 0, 0", r.LastSenderReport, r.Delay)
	}
	s.senderReport(0x1234_5678_9abc_def0, now)
	r, _ := s.report(1, now.Add(500*time.Millisecond))
	if r.LastSenderReport != 0x5678_9abc || r.Delay != 65536/2 {
		t.Errorf("LSR %x, DLSR %d; want 56789abc (the NTP time's middle 32 bits), 32768 (0.5 s)", r.LastSenderReport, r.Delay)
	}
}
