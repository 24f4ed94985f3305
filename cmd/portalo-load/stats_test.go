package main

import (
	"math"
	"reflect"
	"testing"
)

func count(seqs ...uint16) *seqCounter {
	c := &seqCounter{}
	for _, s := range seqs {
		c.add(s)
	}
	return c
}

func TestSeqCounter(t *testing.T) {
	tests := []struct {
		name           string
		seqs           []uint16
		expected, lost uint64
	}{
		{"none", nil, 0, 0},
		{"one", []uint16{7}, 1, 0},
		{"in order", []uint16{10, 11, 12, 13}, 4, 0},
		{"gap", []uint16{10, 11, 14, 15}, 6, 2},
		{"wraparound", []uint16{65533, 65534, 65535, 0, 1, 2}, 6, 0},
		{"wraparound with loss", []uint16{65534, 65535, 1, 2}, 5, 1},
		{"reordered", []uint16{1, 3, 2, 4}, 4, 0},
		{"reordered across the wrap", []uint16{65535, 1, 0, 2}, 4, 0},
		{"older than the first", []uint16{5, 6, 4, 7}, 4, 0},
		{"older than the first across the wrap", []uint16{1, 2, 65535, 0}, 4, 0},
		{"late packet fills a gap", []uint16{1, 2, 4, 5, 3}, 5, 0},
		{"duplicate does not go negative", []uint16{1, 2, 2, 3}, 3, 0},
		{"several cycles", cycles(3), 3*65536 + 1, 0},
	}
	for _, tt := range tests {
		c := count(tt.seqs...)
		if c.expected() != tt.expected || c.lost() != tt.lost {
			t.Errorf("%s: expected %d lost %d, want %d and %d", tt.name, c.expected(), c.lost(), tt.expected, tt.lost)
		}
	}
}

// cycles counts through n full cycles of sequence numbers, in order.
func cycles(n int) []uint16 {
	var out []uint16
	for i := 0; i <= n*65536; i++ {
		out = append(out, uint16(i))
	}
	return out
}

func TestPercentile(t *testing.T) {
	xs := []float64{15, 20, 35, 40, 50}
	for _, tt := range []struct{ p, want float64 }{
		{5, 15}, {30, 20}, {40, 20}, {50, 35}, {95, 50}, {100, 50},
	} {
		if got := percentile(xs, tt.p); got != tt.want {
			t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := percentile([]float64{3, 1, 2}, 50); got != 2 {
		t.Errorf("unsorted median = %v, want 2", got)
	}
	if !math.IsNaN(percentile(nil, 50)) {
		t.Error("empty: want NaN")
	}
	in := []float64{3, 1, 2}
	percentile(in, 50)
	if !reflect.DeepEqual(in, []float64{3, 1, 2}) {
		t.Error("percentile modified its input")
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses; utime 1234, stime 567.
	stat := "5680 (portalo (x) y) S 1 5680 5680 0 -1 4194560 12345 0 3 0 1234 567 0 0 20 0 14 0 8843 1546752000 22630 18446744073709551615 1 1 0 0 0 0 0 0 2143420159 0 0 0 17 1 0 0 0 0 0\n"
	user, sys, err := parseStatCPU(stat)
	if err != nil || user != 1234 || sys != 567 {
		t.Fatalf("parseStatCPU = %d, %d, %v; want 1234, 567", user, sys, err)
	}
	if _, _, err := parseStatCPU("5680 (portalo) S 1 2"); err == nil {
		t.Error("short stat: want an error")
	}
	if _, _, err := parseStatCPU("garbage"); err == nil {
		t.Error("no ')': want an error")
	}
}

func TestParseStatusRSS(t *testing.T) {
	status := "Name:\tportalo\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 1600000 kB\nVmRSS:\t   90520 kB\nRssAnon:\t   60000 kB\nThreads:\t14\n"
	got, err := parseStatusRSS(status)
	if err != nil || got != 90520*1024 {
		t.Fatalf("parseStatusRSS = %d, %v; want %d", got, err, 90520*1024)
	}
	if _, err := parseStatusRSS("Name:\tkthreadd\nState:\tS\n"); err == nil {
		t.Error("no VmRSS: want an error")
	}
}

func TestParseListenInodes(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:46AA 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 424242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:46AA 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 434343 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 454545 1 0000000000000000 100 0 0 10 0
`
	if got := parseListenInodes(table, 18090); !reflect.DeepEqual(got, []string{"424242"}) {
		t.Errorf("port 18090: %v, want [424242] (listening only)", got)
	}
	if got := parseListenInodes(table, 8080); !reflect.DeepEqual(got, []string{"454545"}) {
		t.Errorf("port 8080: %v", got)
	}
	if got := parseListenInodes(table, 9999); got != nil {
		t.Errorf("port 9999: %v, want none", got)
	}
}

func TestSDPCandidateAddrs(t *testing.T) {
	sdp := "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\na=candidate:2 1 udp 2130706431 10.0.0.5 40000 typ host\r\na=end-of-candidates\r\n"
	if got := sdpCandidateAddrs(sdp); !reflect.DeepEqual(got, []string{"127.0.0.1", "10.0.0.5"}) {
		t.Errorf("got %v", got)
	}
	if got := sdpCandidateAddrs("v=0\r\na=end-of-candidates\r\n"); got != nil {
		t.Errorf("no candidates: got %v", got)
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:80"} {
		if err := checkLoopback(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://10.0.0.1:8080", "http://example.com", "ftp://127.0.0.1", "127.0.0.1:8080"} {
		if err := checkLoopback(bad); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}
