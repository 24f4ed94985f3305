package main

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// seqCounter counts received and lost RTP packets of one SSRC from their
// sequence numbers, with RFC 3550 (A.1) style extended sequence numbers:
// wraparound at 65535 is followed, reordered packets (also ones older than
// the first packet seen) are counted as received, and
// lost = expected − received where expected = highest − lowest + 1.
// Duplicates (a retransmission that crossed the original) count twice, so
// lost is clamped at 0.
type seqCounter struct {
	started  bool
	low      int64 // lowest extended sequence number seen
	high     int64 // highest extended sequence number seen
	received uint64
}

// add records one packet.
func (c *seqCounter) add(seq uint16) {
	if !c.started {
		// Start one cycle up so that packets reordered before the first
		// one (across a wrap) stay non-negative.
		c.started = true
		c.low = 1<<16 + int64(seq)
		c.high = c.low
		c.received = 1
		return
	}
	d := int16(seq - uint16(c.high)) // signed distance to the highest, mod 2^16
	ext := c.high + int64(d)
	if ext > c.high {
		c.high = ext
	}
	if ext < c.low {
		c.low = ext
	}
	c.received++
}

// expected is the number of packets the sender sent between the lowest and
// highest sequence number seen.
func (c *seqCounter) expected() uint64 {
	if !c.started {
		return 0
	}
	return uint64(c.high - c.low + 1)
}

// lost is expected − received, at least 0.
func (c *seqCounter) lost() uint64 {
	e := c.expected()
	if c.received >= e {
		return 0
	}
	return e - c.received
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of xs,
// NaN for an empty slice. xs is not modified.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(s) {
		rank = len(s)
	}
	return s[rank-1]
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
// It is 100 on every Linux architecture Go supports (the kernel ABI fixes
// it, whatever CONFIG_HZ is), so no sysconf(_SC_CLK_TCK) is needed.
const clockTicks = 100

// parseStatCPU returns utime+stime (in clock ticks) from the text of
// /proc/PID/stat. The command name (field 2) may contain spaces and
// parentheses, so fields are counted after the last ')'.
func parseStatCPU(stat string) (user, system uint64, err error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, errors.New("stat: no ')' after the command name")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("stat: only %d fields after the command name", len(f))
	}
	ut, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("stat: utime: %w", err)
	}
	st, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("stat: stime: %w", err)
	}
	return ut, st, nil
}

// parseStatusRSS returns VmRSS in bytes from the text of /proc/PID/status.
func parseStatusRSS(status string) (uint64, error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("status: unexpected VmRSS line %q", sc.Text())
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("status: VmRSS: %w", err)
		}
		return kb * 1024, nil
	}
	return 0, errors.New("status: no VmRSS line (kernel thread or exited process?)")
}

// parseListenInodes returns the socket inodes of the sockets in LISTEN
// state on port from the text of /proc/net/tcp or /proc/net/tcp6.
func parseListenInodes(table string, port int) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(table))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) < 10 || f[3] != "0A" { // 0A = TCP_LISTEN
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil || int(p) != port {
			continue
		}
		out = append(out, f[9])
	}
	return out
}

// sdpCandidateAddrs returns the connection addresses of the a=candidate
// lines of an SDP.
func sdpCandidateAddrs(sdp string) []string {
	var out []string
	for _, line := range strings.Split(sdp, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "a=candidate:")
		if !ok {
			continue
		}
		// foundation component transport priority address port typ ...
		if f := strings.Fields(rest); len(f) >= 6 {
			out = append(out, f[4])
		}
	}
	return out
}
