package plugins

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/tetratelabs/wazero"
)

// CompilationCaches hold the machine code wazero compiled from plugin
// modules: one in-memory cache, and one on-disk cache per directory
// (Spec.CacheDir). Hosts that share them compile a module once: a config
// reload makes a new Host, and the modules it did not change start at
// once instead of compiling again (half a second for a Go guest).
//
// Sharing is safe however the hosts' plugins come and go: wazero counts
// the users of each compiled module in a cache, and a Plugin that closes
// releases only its own use, never code another runtime still runs. Code
// that no plugin uses any more leaves the in-memory cache (an on-disk
// cache keeps it), so a reload should load the new plugins before it
// closes or retires the old ones.
//
// Close them after every Host that uses them is closed (or retired, and
// its plugins closed): a closed cache drops the compiled code.
type CompilationCaches struct {
	mem wazero.CompilationCache

	mu     sync.Mutex
	dirs   map[string]wazero.CompilationCache
	closed bool
}

// ErrCachesClosed is the error of a Load whose CompilationCaches were
// closed.
var ErrCachesClosed = errors.New("compilation caches closed")

// NewCompilationCaches returns empty caches.
func NewCompilationCaches() *CompilationCaches {
	return &CompilationCaches{
		mem:  wazero.NewCompilationCache(),
		dirs: map[string]wazero.CompilationCache{},
	}
}

// cache returns the cache for dir ("" for the in-memory one), creating an
// on-disk one once per directory.
func (c *CompilationCaches) cache(dir string) (wazero.CompilationCache, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrCachesClosed
	}
	if dir == "" {
		return c.mem, nil
	}
	if cc, ok := c.dirs[dir]; ok {
		return cc, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("compilation cache: %w", err)
	}
	cc, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, fmt.Errorf("compilation cache %s: %w", dir, err)
	}
	c.dirs[dir] = cc
	return cc, nil
}

// Close releases the compiled code; what is on disk stays. Later calls
// do nothing.
func (c *CompilationCaches) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	dirs := c.dirs
	c.dirs = nil
	c.mu.Unlock()
	var errs []error
	for _, cc := range dirs {
		errs = append(errs, cc.Close(ctx))
	}
	errs = append(errs, c.mem.Close(ctx))
	return errors.Join(errs...)
}
