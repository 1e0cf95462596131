//go:build !linux

package netpoll

type poller struct{}

func defaultPoller() (*poller, error) { return nil, ErrUnsupported }

func (p *poller) watch(fd int, ready func()) error { return ErrUnsupported }

func (p *poller) cancel(fd int) bool { return false }
