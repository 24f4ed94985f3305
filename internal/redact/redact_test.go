package redact

import "testing"

func TestAddresses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"TLS handshake error from 203.0.113.9:5123: EOF", "TLS handshake error from [address]: EOF"},
		{"discard message from (198.51.100.7), unknown", "discard message from ([address]), unknown"},
		{"relay [2001:db8::1]:3478 failed", "relay [address] failed"},
		{"peer 2001:db8:0:1::5 left", "peer [address] left"},
		{"route /workshops/:id/room took 12ms", "route /workshops/:id/room took 12ms"},
		{"version 1.2.3 ok", "version 1.2.3 ok"},
	} {
		if got := Addresses(tc.in); got != tc.want {
			t.Errorf("Addresses(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
