package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
)

func TestDebugListenerServesProfiles(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	stop, err := startDebug(addr, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?gc=1", "/debug/pprof/goroutine"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("%s: %s, %d bytes", path, resp.Status, len(body))
		}
	}
	if _, err := startDebug("256.0.0.1:1", slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a bad address was accepted")
	}
	stopOff, err := startDebug("", nil)
	if err != nil {
		t.Fatal(err)
	}
	stopOff()
}
