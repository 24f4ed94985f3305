package media

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// Pion's own log lines reach slog without the addresses they name.
func TestPionLogsGoToSlogWithoutAddresses(t *testing.T) {
	var buf bytes.Buffer
	l := pionLogs{slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}.NewLogger("ice")
	l.Errorf("Failed to handle message from %s: %v", "203.0.113.9:50123", "bad")
	l.Warn("relay 2001:db8::7 gone")
	l.Infof("state %s", "connected")
	l.Tracef("packet from %s", "198.51.100.1:1")
	out := buf.String()
	for _, want := range []string{`"level":"ERROR"`, `"pion":"ice"`, `Failed to handle message from [address]: bad`, `"level":"WARN"`, `relay [address] gone`, `"level":"DEBUG","msg":"state connected"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	for _, leak := range []string{"203.0.113.9", "2001:db8::7", "198.51.100.1", "packet from"} {
		if strings.Contains(out, leak) {
			t.Errorf("log holds %q:\n%s", leak, out)
		}
	}
}
