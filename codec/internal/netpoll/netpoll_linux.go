package netpoll

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
)

// poller is one epoll set and the goroutine that waits on it.
type poller struct {
	epfd int

	mu      sync.Mutex
	waiting map[int]func()
}

var (
	thePoller atomic.Pointer[poller]
	pollerMu  sync.Mutex // held while the poller is created

	epollCreate = func() (int, error) { return syscall.EpollCreate1(syscall.EPOLL_CLOEXEC) }
)

// defaultPoller returns the process's poller, creating it on first use. A
// failure to create it is not kept: it is most likely a passing shortage
// of file descriptors (EMFILE), and the next call tries again.
func defaultPoller() (*poller, error) {
	if p := thePoller.Load(); p != nil {
		return p, nil
	}
	pollerMu.Lock()
	defer pollerMu.Unlock()
	if p := thePoller.Load(); p != nil {
		return p, nil
	}
	epfd, err := epollCreate()
	if err != nil {
		return nil, fmt.Errorf("netpoll: epoll_create1: %w", err)
	}
	p := &poller{epfd: epfd, waiting: make(map[int]func())}
	go p.loop()
	thePoller.Store(p)
	return p, nil
}

const events = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func (p *poller) watch(fd int, ready func()) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ev := syscall.EpollEvent{Events: events, Fd: int32(fd)}
	err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
	if err == syscall.EEXIST {
		// A one-shot registration that fired and was not canceled stays
		// in the set, disabled: re-arm it.
		err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, fd, &ev)
	}
	if err != nil {
		return fmt.Errorf("netpoll: epoll_ctl add %d: %w", fd, err)
	}
	p.waiting[fd] = ready
	return nil
}

func (p *poller) cancel(fd int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.waiting[fd]
	delete(p.waiting, fd)
	// Deleting here, while the caller holds the descriptor open, keeps a
	// later socket that reuses the number out of this one's registration.
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil) //nolint:errcheck // ENOENT: never added
	return ok
}

func (p *poller) loop() {
	var evs [128]syscall.EpollEvent
	for {
		n, err := syscall.EpollWait(p.epfd, evs[:], -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			panic(fmt.Sprintf("netpoll: epoll_wait: %v", err))
		}
		for i := range n {
			fd := int(evs[i].Fd)
			p.mu.Lock()
			ready := p.waiting[fd]
			delete(p.waiting, fd)
			p.mu.Unlock()
			if ready != nil {
				ready()
			}
		}
	}
}
