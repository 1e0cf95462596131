package netpoll

import (
	"errors"
	"syscall"
	"testing"
)

// A failure to create the poller, as when the process is out of file
// descriptors, is not kept: the next call creates it.
func TestDefaultPoller_RetriesAfterFailure(t *testing.T) {
	saved, create := thePoller.Load(), epollCreate
	t.Cleanup(func() {
		epollCreate = create
		if saved != nil {
			thePoller.Store(saved)
		}
	})
	thePoller.Store(nil)
	epollCreate = func() (int, error) { return -1, syscall.EMFILE }
	if _, err := defaultPoller(); !errors.Is(err, syscall.EMFILE) {
		t.Fatalf("defaultPoller with no descriptor left: %v, want EMFILE", err)
	}
	epollCreate = create
	p, err := defaultPoller()
	if err != nil || p == nil {
		t.Fatalf("defaultPoller once descriptors are back: %v", err)
	}
	if again, _ := defaultPoller(); again != p {
		t.Error("a second call created another poller")
	}
}
