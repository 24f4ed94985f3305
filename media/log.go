package media

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"

	"portalo/internal/redact"
)

// pionLogs sends the logs of Pion's libraries (ICE, DTLS, SRTP, TURN) to
// slog, without the network addresses they may name. Pion's chatty
// info level becomes debug; trace is dropped.
type pionLogs struct{ log *slog.Logger }

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) emit(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, redact.Addresses(msg))
}

func (l pionLogger) emitf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.emit(level, fmt.Sprintf(format, args...))
	}
}

func (l pionLogger) Trace(string)          {}
func (l pionLogger) Tracef(string, ...any) {}
func (l pionLogger) Debug(msg string)      { l.emitf(slog.LevelDebug, "%s", msg) }
func (l pionLogger) Debugf(format string, args ...any) {
	l.emitf(slog.LevelDebug, format, args...)
}
func (l pionLogger) Info(msg string) { l.emitf(slog.LevelDebug, "%s", msg) }
func (l pionLogger) Infof(format string, args ...any) {
	l.emitf(slog.LevelDebug, format, args...)
}
func (l pionLogger) Warn(msg string) { l.emitf(slog.LevelWarn, "%s", msg) }
func (l pionLogger) Warnf(format string, args ...any) {
	l.emitf(slog.LevelWarn, format, args...)
}
func (l pionLogger) Error(msg string) { l.emitf(slog.LevelError, "%s", msg) }
func (l pionLogger) Errorf(format string, args ...any) {
	l.emitf(slog.LevelError, format, args...)
}
