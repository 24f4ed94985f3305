package transcode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// stderrLimit bounds how much of a tool's error output is kept.
const stderrLimit = 8 << 10

// tailBuffer keeps the last stderrLimit bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - stderrLimit; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// command is one run of ffmpeg or ffprobe.
type command struct {
	step string // what it does, for errors: "encode", "poster", ...
	dir  string // working directory ("" for the current one)
	tool string // "ffmpeg" or "ffprobe", looked up on PATH
	args []string
	// stdin and stdout, if not nil, are the tool's standard input and
	// output.
	stdin  io.Reader
	stdout io.Writer
	// lowPriority runs the tool at a lower CPU priority than portalo, so
	// that a long transcoding never starves the web server.
	lowPriority bool
}

// run runs c and waits for it. When ctx ends the tool is killed and run
// returns ctx's error; when the tool fails run returns a *ToolError.
func run(ctx context.Context, c command) error {
	step, tool := c.step, c.tool
	path, err := exec.LookPath(tool)
	if err != nil {
		return fmt.Errorf("transcode: %s is not installed (apt-get install ffmpeg): %w", tool, err)
	}
	cmd := exec.CommandContext(ctx, path, c.args...)
	cmd.Dir = c.dir
	cmd.Stdin = c.stdin
	cmd.Stdout = c.stdout
	var stderr tailBuffer
	cmd.Stderr = &stderr
	// If the tool ignores the kill's closed pipes, Wait gives up after
	// this long instead of hanging.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("transcode: start %s: %w", tool, err)
	}
	if c.lowPriority {
		lowerPriority(cmd.Process.Pid)
	}
	err = cmd.Wait()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("transcode: %s stopped: %w", step, ctxErr)
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return &ToolError{Tool: tool, Step: step, ExitCode: exit.ExitCode(), Stderr: stderr.String()}
		}
		return fmt.Errorf("transcode: %s (%s): %w", tool, step, err)
	}
	return nil
}

// fileURL names a local file for ffmpeg so that no part of its name is
// taken for a protocol ("rtmp:...") or an option ("-i").
func fileURL(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("transcode: %w", err)
	}
	return "file:" + abs, nil
}

// parseProgress reads ffmpeg's -progress output (key=value lines) and
// calls report with the fraction of total that has been written, until r
// ends. Unparseable values (out_time_us=N/A at the start) are skipped.
func parseProgress(r io.Reader, total time.Duration, report func(float64)) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch key {
		case "out_time_us":
			us, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
			if err != nil || us < 0 || total <= 0 {
				continue
			}
			report(min(1, float64(us)/float64(total.Microseconds())))
		case "progress":
			if strings.TrimSpace(value) == "end" {
				report(1)
			}
		}
	}
	// Keep draining so ffmpeg never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, r)
}

// progressReporter turns the progress of the steps of a job into one
// monotonic fraction and calls the job's callback with it.
type progressReporter struct {
	fn     func(float64)
	mu     sync.Mutex
	last   float64
	called bool
}

// set reports fraction f of the whole job; values below the last report
// are ignored, so the callback only ever sees progress going up.
func (p *progressReporter) set(f float64) {
	if p == nil || p.fn == nil || f != f { // f != f: NaN
		return
	}
	f = max(0, min(1, f))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.called && f <= p.last {
		return
	}
	p.last, p.called = f, true
	p.fn(f)
}

// span returns a function that maps a step's own progress (0..1) onto
// [from, to] of the whole job.
func (p *progressReporter) span(from, to float64) func(float64) {
	return func(f float64) { p.set(from + (to-from)*f) }
}
