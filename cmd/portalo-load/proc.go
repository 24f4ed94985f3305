package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// procSample is one reading of a process's CPU time and resident memory.
type procSample struct {
	at  time.Time
	cpu time.Duration // utime + stime
	sys time.Duration // stime: in the kernel
	rss uint64        // bytes
}

// sampleProc reads /proc/PID/stat and /proc/PID/status ("self" for this
// process).
func sampleProc(pid string) (procSample, error) {
	at := time.Now()
	stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return procSample{}, err
	}
	user, sys, err := parseStatCPU(string(stat))
	if err != nil {
		return procSample{}, fmt.Errorf("/proc/%s/%w", pid, err)
	}
	status, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return procSample{}, err
	}
	rss, err := parseStatusRSS(string(status))
	if err != nil {
		return procSample{}, fmt.Errorf("/proc/%s/%w", pid, err)
	}
	return procSample{
		at:  at,
		cpu: time.Duration(user+sys) * time.Second / clockTicks,
		sys: time.Duration(sys) * time.Second / clockTicks,
		rss: rss,
	}, nil
}

// cpuMsPerSec is the CPU milliseconds used per wall-clock second between
// two samples.
func cpuMsPerSec(a, b procSample) float64 {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return 0
	}
	return float64(b.cpu-a.cpu) / float64(time.Millisecond) / wall
}

// sysMsPerSec is the kernel's share of cpuMsPerSec.
func sysMsPerSec(a, b procSample) float64 {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return 0
	}
	return float64(b.sys-a.sys) / float64(time.Millisecond) / wall
}

// findListener finds the process listening on a TCP port: the socket's
// inode from /proc/net/tcp{,6}, then the process with a file descriptor
// on that inode. Only processes of the same user (or all, as root) can be
// seen.
func findListener(port int) (string, error) {
	var inodes []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		inodes = append(inodes, parseListenInodes(string(b), port)...)
	}
	if len(inodes) == 0 {
		return "", fmt.Errorf("no socket listens on TCP port %d", port)
	}
	want := map[string]bool{}
	for _, in := range inodes {
		want["socket:["+in+"]"] = true
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return "", err
	}
	self := strconv.Itoa(os.Getpid())
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil || p.Name() == self {
			continue
		}
		fdDir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue // another user's process, or gone
		}
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && want[l] {
				return p.Name(), nil
			}
		}
	}
	return "", fmt.Errorf("a socket listens on TCP port %d but no visible process holds it (another user's? pass -pid)", port)
}
