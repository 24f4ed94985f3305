//go:build unix

package transcode

import "syscall"

// niceness is the CPU priority ffmpeg runs at (0 is normal, 19 lowest).
const niceness = 10

// lowerPriority lowers the CPU priority of process pid; failing to do so
// is not an error (the tool then merely runs at normal priority).
func lowerPriority(pid int) {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, pid, niceness)
}
