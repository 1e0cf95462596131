package compare

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// clockTicksPerSecond is sysconf(_SC_CLK_TCK), the unit of utime and
// stime in /proc/<pid>/stat: 100 on every Linux architecture Go supports
// (the kernel's USER_HZ), and reading it for real would need cgo.
const clockTicksPerSecond = 100

// procStat is what compare needs of /proc/<pid>/stat.
type procStat struct {
	pid, ppid int
	// utime and stime are in clock ticks and include the process's exited
	// threads.
	utime, stime uint64
}

// parseStat parses the content of /proc/<pid>/stat. The command name,
// field 2, is in parentheses and may itself hold spaces and parentheses,
// so the fields after it are counted from the last ')'.
func parseStat(data []byte) (procStat, error) {
	var s procStat
	open := bytes.IndexByte(data, '(')
	end := bytes.LastIndexByte(data, ')')
	if open < 1 || end < open {
		return s, fmt.Errorf("stat %q: no (comm)", shorten(string(data), 80))
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data[:open])))
	if err != nil {
		return s, fmt.Errorf("stat: pid: %w", err)
	}
	// fields[0] is field 3 (state), so field n is fields[n-3].
	fields := bytes.Fields(data[end+1:])
	if len(fields) < 15-3+1 {
		return s, fmt.Errorf("stat of %d: %d fields after comm, want at least 13", pid, len(fields))
	}
	s.pid = pid
	if s.ppid, err = strconv.Atoi(string(fields[4-3])); err != nil {
		return s, fmt.Errorf("stat of %d: ppid: %w", pid, err)
	}
	if s.utime, err = strconv.ParseUint(string(fields[14-3]), 10, 64); err != nil {
		return s, fmt.Errorf("stat of %d: utime: %w", pid, err)
	}
	if s.stime, err = strconv.ParseUint(string(fields[15-3]), 10, 64); err != nil {
		return s, fmt.Errorf("stat of %d: stime: %w", pid, err)
	}
	return s, nil
}

// parseSchedstat returns the first field of /proc/<pid>/task/<tid>/schedstat:
// the nanoseconds the thread spent on a CPU.
func parseSchedstat(data []byte) (int64, error) {
	fields := bytes.Fields(data)
	if len(fields) < 1 {
		return 0, errors.New("schedstat: empty")
	}
	ns, err := strconv.ParseInt(string(fields[0]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("schedstat: %w", err)
	}
	return ns, nil
}

// parseVmRSS returns VmRSS, in KiB, from the content of /proc/<pid>/status.
// Kernel threads and zombies have no VmRSS: 0 for them.
func parseVmRSS(data []byte) (int64, error) {
	for line := range bytes.Lines(data) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, fmt.Errorf("status: VmRSS line %q", bytes.TrimSpace(line))
		}
		kib, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("status: VmRSS: %w", err)
		}
		return kib, nil
	}
	return 0, nil
}

// procFS reads process information under a /proc mount; root is "/proc"
// except in tests.
type procFS struct {
	root string
}

var proc = procFS{root: "/proc"}

// tree returns root and every live descendant of it, root first. A
// process that exits during the walk is left out; root itself must exist.
func (fs procFS) tree(root int) ([]int, error) {
	if _, err := os.Stat(filepath.Join(fs.root, strconv.Itoa(root))); err != nil {
		return nil, fmt.Errorf("process %d: %w", root, err)
	}
	entries, err := os.ReadDir(fs.root)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue // not a process: /proc/self, /proc/meminfo...
		}
		data, err := os.ReadFile(filepath.Join(fs.root, e.Name(), "stat"))
		if err != nil {
			continue // it exited
		}
		s, err := parseStat(data)
		if err != nil {
			return nil, err
		}
		children[s.ppid] = append(children[s.ppid], pid)
	}
	pids := []int{root}
	for i := 0; i < len(pids); i++ {
		pids = append(pids, children[pids[i]]...)
	}
	return pids, nil
}

// cpuSample is the CPU time a process tree has used so far, by two
// clocks: schedNs, the sum of every thread's schedstat (nanoseconds;
// valid when haveSched), and ticks, the sum of every process's utime and
// stime (clock ticks, 10 ms).
type cpuSample struct {
	schedNs   int64
	haveSched bool
	ticks     uint64
}

// cpuNs returns the CPU time from before to after in nanoseconds, by the
// finer clock when both samples have it. Schedstat covers live threads
// only, so a thread that exited in between makes it go backwards: the
// coarse clock, which counts exited threads, is the fallback then.
func cpuNs(before, after cpuSample) int64 {
	if before.haveSched && after.haveSched && after.schedNs >= before.schedNs {
		return after.schedNs - before.schedNs
	}
	if after.ticks < before.ticks {
		return 0
	}
	return int64(after.ticks-before.ticks) * (1e9 / clockTicksPerSecond)
}

// treeCPU samples the CPU time of root's process tree.
func (fs procFS) treeCPU(root int) (cpuSample, error) {
	pids, err := fs.tree(root)
	if err != nil {
		return cpuSample{}, err
	}
	sample := cpuSample{haveSched: true}
	for _, pid := range pids {
		dir := filepath.Join(fs.root, strconv.Itoa(pid))
		data, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue // it exited since the walk
		}
		s, err := parseStat(data)
		if err != nil {
			return cpuSample{}, err
		}
		sample.ticks += s.utime + s.stime
		ns, ok := threadsSchedNs(dir)
		sample.schedNs += ns
		sample.haveSched = sample.haveSched && ok
	}
	return sample, nil
}

// threadsSchedNs sums the schedstat CPU time of every thread of the
// process whose /proc directory is dir; false when schedstat is missing
// (a kernel without CONFIG_SCHED_INFO).
func threadsSchedNs(dir string) (int64, bool) {
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return 0, false
	}
	var sum int64
	for _, t := range tasks {
		data, err := os.ReadFile(filepath.Join(dir, "task", t.Name(), "schedstat"))
		if errors.Is(err, os.ErrNotExist) {
			if _, statErr := os.Stat(filepath.Join(dir, "task", t.Name())); statErr == nil {
				return 0, false // the thread is there, its schedstat is not
			}
			continue // the thread exited
		}
		if err != nil {
			return 0, false
		}
		ns, err := parseSchedstat(data)
		if err != nil {
			return 0, false
		}
		sum += ns
	}
	return sum, true
}

// treeRSS returns the resident memory of root's process tree in KiB: the
// sum of the processes' VmRSS. Pages that processes share (nginx's master
// and worker share their code) are counted in each.
func (fs procFS) treeRSS(root int) (int64, error) {
	pids, err := fs.tree(root)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, pid := range pids {
		data, err := os.ReadFile(filepath.Join(fs.root, strconv.Itoa(pid), "status"))
		if err != nil {
			continue // it exited since the walk
		}
		kib, err := parseVmRSS(data)
		if err != nil {
			return 0, fmt.Errorf("process %d: %w", pid, err)
		}
		sum += kib
	}
	return sum, nil
}
