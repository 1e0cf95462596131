package conformance

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Target is an echo endpoint: it echoes every data message with the same
// type and payload (possibly re-fragmented), answers each ping with a pong
// carrying the same payload, and answers a close as RFC 6455 says.
type Target struct {
	Addr   string      // host:port on loopback
	Path   string      // request path, default "/"
	Host   string      // Host header, default Addr
	Header http.Header // extra request headers (optional); must not offer extensions (see Case.Offer)

	// MaxMessageSize is the server's configured limit on a message: the
	// category 10 cases send one byte more and expect close 1009, and the
	// category 9 cases above it are skipped. 0 means no limit: the limit
	// cases are skipped.
	MaxMessageSize int64

	// Compression says that the server negotiates permessage-deflate (RFC
	// 7692) and accepts every valid offer of it: the compression cases
	// (categories 12 and 13) run only when it is set, and then fail if the
	// server declines a valid offer.
	Compression bool
}

// Case is one conformance check, run on a fresh connection.
type Case struct {
	ID   string // Autobahn-like number: "5.14"
	Name string // what the harness sends, and in some cases what it expects

	// Run drives the connection and returns nil when the server did exactly
	// what RFC 6455 requires, or an error that says what it did instead.
	Run func(s *Session) error

	// Offer is the Sec-WebSocket-Extensions header of the case's opening
	// handshake; "" offers no extension. A case with an offer is skipped
	// unless the Target says it compresses.
	Offer string

	// Heavy marks a case that moves megabytes: heavy cases run one at a time,
	// with a deadline of 30s instead of 10s.
	Heavy bool
}

const (
	parallel     = 8                // cases that run at once
	caseTimeout  = 10 * time.Second // deadline of a case, handshake included
	heavyTimeout = 30 * time.Second
)

// Run runs every case of Cases against target, each as the subtest
// case.ID+"/"+case.Name of t, and returns when all have finished.
func Run(t *testing.T, target Target) {
	t.Helper()
	RunCases(t, target, Cases())
}

// RunCases is Run for a subset of the cases, filtered from Cases.
func RunCases(t *testing.T, target Target, cases []Case) {
	t.Helper()
	run(t, target, cases, func(t *testing.T, _ Case, err error) {
		if err != nil {
			t.Error(err)
		}
	})
}

// verdict judges the outcome of case c (err is nil if it passed) within the
// case's subtest t.
type verdict func(t *testing.T, c Case, err error)

// run runs cases against target, at most parallel at once (the subtests do
// not call t.Parallel, so the bound holds whatever -test.parallel says, and
// run returns only when all are done: a caller may stop the server after
// it). Each case is a subtest whose outcome judge decides.
func run(t *testing.T, target Target, cases []Case, judge verdict) {
	t.Helper()
	if target.Addr == "" {
		t.Fatal("conformance: Target.Addr is empty")
	}
	if v := target.Header.Values("Sec-WebSocket-Extensions"); len(v) > 0 {
		t.Fatalf("conformance: Target.Header offers extensions %q; the cases assume none is negotiated", v)
	}
	jobs := make(chan Case)
	heavy := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for range min(parallel, len(cases)) {
		wg.Go(func() { runWorker(t, target, jobs, heavy, judge) })
	}
	for _, c := range cases {
		jobs <- c
	}
	close(jobs)
	wg.Wait()
}

// runWorker runs the cases it receives from jobs, one after the other.
func runWorker(t *testing.T, target Target, jobs <-chan Case, heavy chan struct{}, judge verdict) {
	for c := range jobs {
		if c.Heavy {
			heavy <- struct{}{}
		}
		t.Run(c.ID+"/"+c.Name, func(t *testing.T) {
			err := execute(target, c)
			if skip := (*skipError)(nil); errors.As(err, &skip) {
				t.Skip(skip.reason)
			}
			judge(t, c, err)
		})
		if c.Heavy {
			<-heavy
		}
	}
}

// execute runs case c on a fresh connection to target.
func execute(target Target, c Case) error {
	timeout := caseTimeout
	if c.Heavy {
		timeout = heavyTimeout
	}
	if c.Offer != "" && !target.Compression {
		return Skipped("the target does not negotiate permessage-deflate (Target.Compression)")
	}
	s, err := dial(target, c.Offer, time.Now().Add(timeout))
	if err != nil {
		return fmt.Errorf("case %s (%s): opening handshake: %w", c.ID, c.Name, err)
	}
	defer s.close()
	if err := c.Run(s); err != nil {
		if errors.As(err, new(*skipError)) {
			return err
		}
		return fmt.Errorf("case %s (%s): %w", c.ID, c.Name, err)
	}
	return nil
}

type skipError struct{ reason string }

func (e *skipError) Error() string { return "skipped: " + e.reason }

// Skipped returns the error with which a case says that it does not apply
// to the target; the case's subtest is then skipped with reason.
func Skipped(reason string) error { return &skipError{reason} }
