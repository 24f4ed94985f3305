package signaling

import (
	"log/slog"
	"testing"
)

// TestSlowClientIsCut: a connection whose writer falls sendQueue frames
// behind is ended rather than queueing without bound; until then every
// frame waits, in order, and an idle connection holds no queue.
func TestSlowClientIsCut(t *testing.T) {
	h := &Hub{cfg: Config{Logger: slog.New(slog.DiscardHandler)}}
	c := newConn(h, &room{hub: h, id: "r"}, nil, Identity{})
	if c.queue != nil {
		t.Fatal("a new connection has a send queue allocated")
	}
	for i := range sendQueue {
		c.enqueueBytes([]byte{byte(i)})
	}
	select {
	case <-c.stop:
		t.Fatal("ended with a full queue, not an overfull one")
	default:
	}
	q := c.pop()
	if len(q) != sendQueue || q[0].data[0] != 0 || q[sendQueue-1].data[0] != byte(sendQueue-1) {
		t.Fatalf("queue of %d frames, want %d in order", len(q), sendQueue)
	}
	for range sendQueue + 1 {
		c.enqueueBytes([]byte("x"))
	}
	select {
	case <-c.stop:
	default:
		t.Fatal("a connection one frame past the limit was not ended")
	}
}
